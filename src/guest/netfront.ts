// The control plane of a simulated guest's netfront: what Linux's xen-netfront does on the
// xenbus side (netback_changed, xennet_connect/talk_to_netback, xennet_remove). The rings
// themselves live in netfront-queue.ts, one NetfrontQueue per queue: the guest asks for
// `queues` and gets min(that, the backend's multi-queue-max-queues); frames are sent on the
// queue their flow hash picks (xennet_select_queue), so one flow keeps to one queue.
//
// The frontend's own state, driven by the backend's (xen-netfront's netback_changed):
//
//   Initialising ──BE InitWait──► [rings, grants, port; keys + state in ONE transaction] ──► Connected
//        ▲                                                                                    │
//        │ BE InitWait after Closed (re-init), or reconnect()         BE Closing, or BE Closed │
//        │                                                            (a missed Closing)       ▼
//      Closed ◄──────────── teardown (grants still mapped are retried later) ◄─────────── Closing
//
//   Any failure while connecting is xenbus_dev_fatal: `<errno> <message>` goes to
//   /local/domain/<self>/error/device/vif/<devid>/error, then Closing ─► Closed.
//
// State writes follow xenbus_switch_state: in a transaction that first reads `state`, so a
// frontend directory the toolstack has just removed is never brought back by a late write.

import { flowHash } from '../protocol/flow-hash.js';
import {
  NETTXF_csum_blank, NETTXF_data_validated, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6,
} from '../protocol/netif.js';
import { parseXenbusState, XenbusState, type XenbusStateValue, xenbusStateName } from '../protocol/xenbus.js';
import type { Domain } from '../xen/emulated/domain.js';
import type { EventChannels } from '../xen/emulated/event-channel.js';
import {
  type Leftover, newCounters, type NetfrontCounters, NetfrontQueue, type QueueInfo, type RawTxExtra,
  type RawTxRequest, type RxInfo, type TxGso, type TxResult,
} from './netfront-queue.js';
import { parseMac } from './packet.js';
import {
  defaultGuestLog, errorCode, errorText, type GuestLog, type GuestXs, inTransaction, readString,
  SerialQueue, type WatchHandle, type XsWatches,
} from './xs.js';

/** errno values xenbus_dev_fatal reports (Linux numbering). */
const ENOENT = 2;
const EIO = 5;
const ENOMEM = 12;
const ENODEV = 19;

/**
 * What Linux's netfront advertises in talk_to_netback: it takes multi-slot rx packets, GSO
 * packets with their extra, and partial checksums for IPv6 as well as IPv4. Without `gso`
 * the GSO keys are left out (a netfront whose TSO is switched off).
 */
function frontendFeatures(gso: boolean): Record<string, string> {
  const keys: Record<string, string> = { 'feature-sg': '1' };
  if (gso) Object.assign(keys, { 'feature-gso-tcpv4': '1', 'feature-gso-tcpv6': '1' });
  keys['feature-ipv6-csum-offload'] = '1';
  return keys;
}

/** Backend keys read at connect, kept for operators (and for the day sg/gso are advertised). */
const BACKEND_FEATURES = ['feature-sg', 'feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload',
  'feature-split-event-channels', 'multi-queue-max-queues', 'feature-xdp-headroom'] as const;

export interface NetfrontOptions {
  log?: GuestLog;
  /** How long connect keeps re-reading keys a backend may still be writing after InitWait. */
  settleMs?: number;
  /** Per wait in close(), as Linux's XENNET_TIMEOUT. */
  closeTimeoutMs?: number;
  /** How often grants the backend still had mapped at teardown are retried. */
  deferredRetryMs?: number;
  /** Reconnect when the backend shows InitWait again while we are Closed (not after a fatal error). */
  reconnectOnInitWait?: boolean;
  /** Queues to ask for (Linux's xennet max_queues); the backend's maximum caps it. Default 1. */
  queues?: number;
  /** Advertise feature-gso-tcpv4/-tcpv6 (default true): GSO packets both ways when the backend has them too. */
  gso?: boolean;
}

export interface SendOptions {
  /** CHECKSUM_PARTIAL: the L4 checksum is left for the backend (csum_blank|data_validated). */
  csumBlank?: boolean;
  /** The packet is known good (data_validated). */
  dataValidated?: boolean;
  /** A GSO packet: segment size and XEN_NETIF_GSO_TYPE_*; only when gsoAvailable() says so. */
  gso?: TxGso;
}

export interface NetfrontEvents {
  state: (state: XenbusStateValue, previous: XenbusStateValue) => void;
  'backend-state': (state: XenbusStateValue) => void;
  /** Backend Connected while we are Connected: Linux's netdev_notify_peers (gratuitous ARP). */
  'backend-connected': () => void;
  broken: (reason: string) => void;
  /** The backend's link-state changed (set_link): netif_carrier_on/off. */
  carrier: (on: boolean) => void;
}

/** vifd's backend key for set_link (1 up, 0 down); a backend without it has its link up. */
const LINK_STATE_KEY = 'link-state';

export interface NetfrontSummary {
  devid: number;
  path: string;
  backend: string | null;
  backendId: number | null;
  mac: string | null;
  state: string;
  backendState: string;
  /** The link as the backend publishes it: false while set_link has it down. */
  carrier: boolean;
  broken: string | null;
  error: string | null;
  counters: NetfrontCounters;
  backendFeatures: Record<string, string>;
  /** Queue 0's rings (the whole device with one queue). */
  rings: QueueInfo | null;
  /** Every queue's rings; empty while unconnected. */
  queues: QueueInfo[];
  /** Grants the backend kept mapped after teardown, waiting to be ended. */
  deferredGrants: number;
}

export class Netfront {
  readonly path: string;
  /** xenbus's nodename: `device/vif/<devid>`, relative to the domain's home. */
  readonly nodename: string;
  readonly errorPath: string;
  readonly counters: NetfrontCounters = newCounters();
  /** Each received frame, lent for the call: a handler that keeps it keeps a copy. */
  onFrame: ((frame: Uint8Array, info: RxInfo) => void) | null = null;
  /** The tx ring has room again after send() found it full (and maybe at other times). */
  onTxSpace: (() => void) | null = null;

  private readonly log: GuestLog;
  private readonly steps: SerialQueue;
  private readonly listeners = new Map<keyof NetfrontEvents, Set<(...args: never[]) => void>>();
  private readonly waiters = new Set<() => void>();
  private currentState: XenbusStateValue = XenbusState.Initialising;
  private currentBackendState: XenbusStateValue = XenbusState.Unknown;
  private backendPathValue: string | null = null;
  private backendIdValue: number | null = null;
  private macValue: string | null = null;
  private brokenReason: string | null = null;
  private fatalError: string | null = null;
  private backendFeatures: Record<string, string> = {};
  /** The connected queues; empty while unconnected. */
  private queues: NetfrontQueue[] = [];
  private deferred: Leftover[] = [];
  private deferredTimer: NodeJS.Timeout | null = null;
  private watch: WatchHandle | null = null;
  private linkWatch: WatchHandle | null = null;
  private carrierOn = true;
  private linkReads = 0;
  private backendReads = 0;
  private backendReadApplied = 0;
  private removing = false;
  private destroyed = false;
  /** We wrote Initialising again and wait for the backend's InitWait; its stale Closed is no close. */
  private reinitialising = false;
  /** netdev_notify_peers ran for the current backend Connected. */
  private peersNotified = false;

  constructor(readonly domain: Domain, private readonly xs: GuestXs, private readonly watches: XsWatches,
    private readonly evtchn: EventChannels, readonly devid: number, private readonly opts: NetfrontOptions = {}) {
    this.nodename = `device/vif/${devid}`;
    this.path = `/local/domain/${domain.domid}/${this.nodename}`;
    this.errorPath = `/local/domain/${domain.domid}/error/${this.nodename}/error`;
    const base = opts.log ?? defaultGuestLog;
    const name = `netfront ${domain.domid}/vif/${devid}`;
    this.log = (line) => base(`${name}: ${line}`);
    this.steps = new SerialQueue((err) => this.log(`xenbus step failed: ${errorText(err)}`));
  }

  get state(): XenbusStateValue { return this.currentState; }
  get backendState(): XenbusStateValue { return this.currentBackendState; }
  get backendPath(): string | null { return this.backendPathValue; }
  get backendId(): number | null { return this.backendIdValue; }
  get mac(): string | null { return this.macValue; }
  /** Why the data path was disabled ("Illegal number of responses", ...), or null. */
  get broken(): string | null { return this.brokenReason; }
  /** The last xenbus_dev_fatal message (`<errno> <message>`), or null. */
  get error(): string | null { return this.fatalError; }
  /** Off while the backend's link is down: the stack must not send (its frames would be dropped). */
  get carrier(): boolean { return this.carrierOn; }

  on<K extends keyof NetfrontEvents>(event: K, listener: NetfrontEvents[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set!.delete(listener);
  }

  /** Probe: reads the other end's details (xenbus_read_otherend_details) and watches its state. */
  async start(): Promise<void> {
    const backend = await readString(this.xs, `${this.path}/backend`);
    const backendId = await readString(this.xs, `${this.path}/backend-id`);
    if (!backend || backendId === undefined || !/^\d+$/.test(backendId)) {
      await this.steps.run(() => this.fatal(ENOENT, `reading other end details from ${this.path}`));
      return;
    }
    this.backendPathValue = backend;
    this.backendIdValue = Number(backendId);
    this.macValue = (await readString(this.xs, `${this.path}/mac`)) ?? null;
    this.currentState = parseXenbusState(await readString(this.xs, `${this.path}/state`));
    const watch = await this.watches.add(`${backend}/state`, () => this.backendMayHaveChanged());
    if (this.destroyed) await watch.remove();
    else this.watch = watch;
    const linkWatch = await this.watches.add(`${backend}/${LINK_STATE_KEY}`, () => this.linkMayHaveChanged());
    if (this.destroyed) await linkWatch.remove();
    else this.linkWatch = linkWatch;
  }

  /** Queues one frame; false when it was not queued (tx ring full, or the device is not usable). */
  send(frame: Uint8Array, opts: SendOptions = {}): boolean {
    const queues = this.queues;
    if (queues.length === 0 || this.currentState !== XenbusState.Connected || !this.carrierOn) {
      this.counters.txDropped++;
      return false;
    }
    const flags = opts.csumBlank ? NETTXF_csum_blank | NETTXF_data_validated
      : opts.dataValidated ? NETTXF_data_validated : 0;
    if (opts.gso && !this.gsoAvailable(opts.gso.type)) {
      throw new RangeError(`GSO type ${opts.gso.type} was not negotiated with the backend`);
    }
    const queue = queues.length === 1 ? queues[0]! : queues[flowHash(frame) % queues.length]!;
    return queue.send(frame, flags, opts.gso);
  }

  /**
   * Whether GSO packets of `type` may be sent: both ends advertised it (Linux's NETIF_F_TSO
   * after xennet_fix_features), and the backend takes multi-slot packets.
   */
  gsoAvailable(type: number = XEN_NETIF_GSO_TYPE_TCPV4): boolean {
    if (this.queues.length === 0 || !(this.opts.gso ?? true) || this.backendFeatures['feature-sg'] !== '1') return false;
    if (type === XEN_NETIF_GSO_TYPE_TCPV4) return this.backendFeatures['feature-gso-tcpv4'] === '1';
    if (type === XEN_NETIF_GSO_TYPE_TCPV6) return this.backendFeatures['feature-gso-tcpv6'] === '1';
    return false;
  }

  /** How many queues are connected (0 while unconnected). */
  get queueCount(): number {
    return this.queues.length;
  }

  /** Pushes one tx request verbatim and resolves with the backend's response. */
  async injectTx(req: RawTxRequest): Promise<TxResult> {
    const [result] = await this.injectTxBatch([req]);
    return result!;
  }

  /** Pushes several slots at once (one notify), e.g. a first slot with more_data and its follower. */
  /** On queue 0 (or `queue`). */
  injectTxBatch(slots: Array<RawTxRequest | RawTxExtra>, queue = 0): Promise<Array<TxResult | null>> {
    const q = this.queues[queue];
    if (!q) return Promise.reject(new Error(`${this.path}: not connected (no queue ${queue})`));
    return q.injectTx(slots);
  }

  /** Operators' kick: process every queue's rings and notify the backend, as after a lost event. */
  kick(): void {
    for (const q of this.queues) q.kick();
  }

  /** Frontend re-initialisation (a driver reload): Closed → Initialising, then connect on InitWait. */
  reconnect(): Promise<void> {
    return this.steps.run(async () => {
      if (this.destroyed || this.removing || this.currentState !== XenbusState.Closed) return;
      // A backend still on its way to Closed would take our Initialising for nothing (QEMU
      // re-initialises only from Closed).
      await this.waitBackend((s) => s !== XenbusState.Closing && s !== XenbusState.Connected,
        this.opts.closeTimeoutMs ?? 5000);
      await this.reinitialise();
      if (this.currentBackendState === XenbusState.InitWait) await this.connect();
    });
  }

  /**
   * Orderly removal, as xennet_remove: Closing, wait for the backend, Closed, wait again (each
   * wait bounded), then tear down and stop watching.
   */
  async close(): Promise<void> {
    if (this.destroyed || this.removing) return;
    this.removing = true;
    const timeout = this.opts.closeTimeoutMs ?? 5000;
    await this.steps.run(async () => {
      if (this.currentBackendState !== XenbusState.Closed && this.currentState !== XenbusState.Closed) {
        await this.switchState(XenbusState.Closing);
        await this.waitBackend((s) => s === XenbusState.Closing || s === XenbusState.Closed || s === XenbusState.Unknown, timeout);
        await this.switchState(XenbusState.Closed);
        await this.waitBackend((s) => s === XenbusState.Closed || s === XenbusState.Unknown, timeout);
      } else {
        await this.switchState(XenbusState.Closed);
      }
      this.teardown();
    });
    this.destroy();
  }

  /** The device directory is gone: release everything without writing to xenstore. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.removing = true;
    this.teardown();
    void this.watch?.remove();
    this.watch = null;
    void this.linkWatch?.remove();
    this.linkWatch = null;
    for (const wake of this.waiters) wake();
  }

  summary(): NetfrontSummary {
    return {
      devid: this.devid,
      path: this.path,
      backend: this.backendPathValue,
      backendId: this.backendIdValue,
      mac: this.macValue,
      state: xenbusStateName(this.currentState),
      backendState: xenbusStateName(this.currentBackendState),
      carrier: this.carrierOn,
      broken: this.brokenReason,
      error: this.fatalError,
      counters: { ...this.counters },
      backendFeatures: { ...this.backendFeatures },
      rings: this.queues[0]?.info() ?? null,
      queues: this.queues.map((q) => q.info()),
      deferredGrants: this.deferred.length,
    };
  }

  /** Resolves when every xenbus reaction queued so far has run (tests, orderly shutdown). */
  settled(): Promise<void> {
    return this.steps.idle();
  }

  // --- the other end

  /**
   * Reads the backend state outside the step queue, so close() can wait on it while holding the
   * queue; only the newest read is applied. A change queues a reaction, which looks at the
   * backend state as it is when it runs (several changes may have come in meanwhile).
   */
  private backendMayHaveChanged(): void {
    const seq = ++this.backendReads;
    readString(this.xs, `${this.backendPathValue}/state`).then((text) => {
      if (seq < this.backendReadApplied || this.destroyed) return;
      this.backendReadApplied = seq;
      const state = parseXenbusState(text);
      const changed = state !== this.currentBackendState;
      if (changed) {
        this.log(`backend ${xenbusStateName(this.currentBackendState)} -> ${xenbusStateName(state)}`);
        this.currentBackendState = state;
        if (state !== XenbusState.Connected) this.peersNotified = false;
        this.emit('backend-state', state);
      }
      for (const wake of this.waiters) wake();
      this.retryDeferred();
      if (changed) void this.steps.run(() => this.otherendChanged());
    }, (err: unknown) => this.log(`reading backend state failed: ${errorText(err)}`));
  }

  /** The backend's link-state key: only the newest read counts; a missing key means up. */
  private linkMayHaveChanged(): void {
    const seq = ++this.linkReads;
    readString(this.xs, `${this.backendPathValue}/${LINK_STATE_KEY}`).then((text) => {
      if (seq !== this.linkReads || this.destroyed) return;
      const on = text !== '0';
      if (on === this.carrierOn) return;
      this.carrierOn = on;
      this.log(`carrier ${on ? 'on' : 'off'}`);
      this.emit('carrier', on);
    }, (err: unknown) => this.log(`reading ${LINK_STATE_KEY} failed: ${errorText(err)}`));
  }

  /** netback_changed */
  private async otherendChanged(): Promise<void> {
    if (this.removing) return;
    switch (this.currentBackendState) {
      case XenbusState.InitWait:
        if (this.currentState === XenbusState.Closed && this.fatalError === null && (this.opts.reconnectOnInitWait ?? true)) {
          await this.reinitialise();
        }
        if (this.currentState === XenbusState.Initialising) await this.connect();
        return;
      case XenbusState.Connected:
        if (this.currentState === XenbusState.Connected && !this.peersNotified) {
          this.peersNotified = true;
          this.emit('backend-connected');
        }
        return;
      case XenbusState.Closed:
        if (this.currentState === XenbusState.Closed) return;
        // Timeline of a re-init: we write Initialising; the backend, still Closed, has yet to
        // see it and answer InitWait. That Closed is not news.
        if (this.reinitialising && this.currentState === XenbusState.Initialising) return;
        // Otherwise a Closed we see without having seen Closing is a missed Closing.
        await this.closeDevice();
        return;
      case XenbusState.Closing:
        await this.closeDevice();
        return;
      default:
        return;
    }
  }

  private async reinitialise(): Promise<void> {
    this.fatalError = null;
    this.brokenReason = null;
    this.reinitialising = true;
    await this.switchState(XenbusState.Initialising);
  }

  /** xennet_connect + talk_to_netback, with the state switch inside the same transaction. */
  private async connect(): Promise<void> {
    this.reinitialising = false;
    this.peersNotified = false;
    const be = this.backendPathValue!;
    const backendId = this.backendIdValue!;
    const rxCopy = await this.settledRead(`${be}/feature-rx-copy`);
    if (rxCopy !== '1') return this.fatal(ENODEV, 'backend does not support copying receive path');
    const macText = await this.settledRead(`${this.path}/mac`);
    if (macText === undefined || parseMac(macText) === null) return this.fatal(ENOENT, `parsing ${this.nodename}/mac`);
    this.macValue = macText;
    const features: Record<string, string> = {};
    for (const key of BACKEND_FEATURES) {
      const v = await readString(this.xs, `${be}/${key}`);
      if (v !== undefined) features[key] = v;
    }
    this.backendFeatures = features;

    // xennet_connect: as many queues as asked for and the backend allows; split channels if offered.
    const maxText = features['multi-queue-max-queues'];
    const backendMax = maxText !== undefined && /^\d+$/.test(maxText) ? Math.max(1, Number(maxText)) : 1;
    const count = Math.min(this.opts.queues ?? 1, backendMax);
    const split = features['feature-split-event-channels'] === '1';
    const queues: NetfrontQueue[] = [];
    const hooks = {
      log: this.log,
      onFrames: (frames: Array<{ frame: Uint8Array; info: RxInfo }>) => this.deliver(frames),
      onTxSpace: () => this.onTxSpace?.(),
      onBroken: (reason: string) => {
        if (this.brokenReason !== null) return;
        this.brokenReason = reason;
        // Linux keeps `broken` per device: one bad queue stops them all.
        for (const q of this.queues) q.markBroken(reason);
        this.emit('broken', reason);
      },
    };
    try {
      for (let i = 0; i < count; i++) {
        queues.push(NetfrontQueue.create(this.domain, backendId, this.evtchn, this.counters, hooks, split));
      }
    } catch (err) {
      for (const q of queues) this.keepLeftovers(q.teardown());
      return this.fatal(errorCode(err) === 'ENOMEM' ? ENOMEM : EIO, `allocating rings and event channel: ${errorText(err)}`);
    }

    let attempts = 0;
    try {
      await inTransaction(this.xs, async (tx) => {
        attempts++;
        // As in switchState: never recreate a directory the toolstack removed meanwhile.
        if ((await readString(this.xs, `${this.path}/state`, tx)) === undefined) throw new Error('device directory is gone');
        const w = (key: string, value: string | number) => this.xs.write(`${this.path}/${key}`, String(value), tx);
        if (maxText !== undefined) await w('multi-queue-num-queues', count);
        // One queue: flat keys; several: each under queue-<i>/ (write_queue_xenstore_keys).
        for (const [i, q] of queues.entries()) await writeQueueKeys(count === 1 ? '' : `queue-${i}/`, q, w);
        await w('request-rx-copy', 1);
        await w('feature-rx-notify', 1);
        for (const [key, value] of Object.entries(frontendFeatures(this.opts.gso ?? true))) await w(key, value);
        await w('state', XenbusState.Connected);
      });
    } catch (err) {
      for (const q of queues) this.keepLeftovers(q.teardown());
      if (this.destroyed) return;
      return this.fatal(EIO, `publishing rings: ${errorText(err)}`);
    }
    if (this.destroyed) {
      for (const q of queues) this.keepLeftovers(q.teardown());
      return;
    }
    this.queues = queues;
    // feature-sg from the backend: it takes multi-slot tx packets (Linux's NETIF_F_SG).
    for (const q of queues) q.sg = this.backendFeatures['feature-sg'] === '1';
    this.brokenReason = null;
    if (attempts > 1) this.log(`connect transaction retried ${attempts - 1} time(s) on EAGAIN`);
    for (const [i, q] of queues.entries()) {
      const ports = q.rxPort !== q.port ? `event-channel-tx=${q.port} event-channel-rx=${q.rxPort}`
        : `event-channel=${q.port}`;
      this.log(`queue ${i}/${count}: tx-ring-ref=${q.txRingRef} rx-ring-ref=${q.rxRingRef} ${ports}`);
    }
    this.setState(XenbusState.Connected);
  }

  /** The backend is closing (xenbus_frontend_closed): Closing, stop the rings, Closed. */
  private async closeDevice(): Promise<void> {
    this.reinitialising = false;
    if (this.currentState === XenbusState.Closed) return;
    await this.switchState(XenbusState.Closing);
    this.teardown();
    await this.switchState(XenbusState.Closed);
  }

  /** xenbus_dev_fatal: report where the toolstack looks, then close. */
  private async fatal(errno: number, message: string): Promise<void> {
    if (this.destroyed) return this.teardown();
    this.fatalError = `${errno} ${message}`;
    this.log(`fatal: ${this.fatalError}`);
    try {
      await this.xs.write(this.errorPath, this.fatalError);
    } catch (err) {
      this.log(`could not write ${this.errorPath}: ${errorText(err)}`);
    }
    this.teardown();
    await this.switchState(XenbusState.Closing);
    await this.switchState(XenbusState.Closed);
  }

  // --- state

  /** xenbus_switch_state: idempotent; skipped if the `state` node is gone (device removed). */
  private async switchState(target: XenbusStateValue): Promise<void> {
    if (this.currentState === target || this.destroyed) return;
    let written = false;
    try {
      written = await inTransaction(this.xs, async (tx) => {
        if ((await readString(this.xs, `${this.path}/state`, tx)) === undefined) return false;
        await this.xs.write(`${this.path}/state`, String(target), tx);
        return true;
      });
    } catch (err) {
      this.log(`writing state ${xenbusStateName(target)} failed: ${errorText(err)}`);
    }
    if (!written) this.log(`state node gone; staying ${xenbusStateName(this.currentState)} locally`);
    this.setState(target);
  }

  private setState(target: XenbusStateValue): void {
    const previous = this.currentState;
    if (previous === target) return;
    this.currentState = target;
    this.log(`${xenbusStateName(previous)} -> ${xenbusStateName(target)}`);
    this.emit('state', target, previous);
  }

  private waitBackend(done: (s: XenbusStateValue) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (!done(this.currentBackendState) && !this.destroyed) return;
        finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (!ok) this.log(`backend still ${xenbusStateName(this.currentBackendState)} after ${timeoutMs} ms`);
        resolve(ok);
      };
      // Unref'd: a process shutting down must not wait for a backend that is already gone.
      const timer = setTimeout(() => finish(false), timeoutMs);
      timer.unref();
      this.waiters.add(check);
      check();
    });
  }

  /** A key the backend (or toolstack) may still be writing right after InitWait. */
  private async settledRead(path: string): Promise<string | undefined> {
    const deadline = Date.now() + (this.opts.settleMs ?? 250);
    for (;;) {
      const v = await readString(this.xs, path);
      if (v !== undefined || Date.now() >= deadline) return v;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // --- data path glue and teardown

  private deliver(frames: Array<{ frame: Uint8Array; info: RxInfo }>): void {
    for (const { frame, info } of frames) {
      if (!this.onFrame) {
        this.counters.rxDropped++;
        continue;
      }
      try {
        this.onFrame(frame, info);
      } catch (err) {
        this.counters.rxDropped++;
        this.log(`frame handler failed: ${errorText(err)}`);
      }
    }
  }

  private teardown(): void {
    const queues = this.queues;
    this.queues = [];
    for (const q of queues) this.keepLeftovers(q.teardown());
  }

  private keepLeftovers(left: Leftover[]): void {
    if (left.length === 0) return;
    this.log(`grants still mapped by the backend, ending them later: ${left.map((l) => l.what).join(', ')}`);
    this.deferred.push(...left);
    if (!this.deferredTimer) {
      this.deferredTimer = setInterval(() => this.retryDeferred(), this.opts.deferredRetryMs ?? 1000);
      this.deferredTimer.unref();
    }
  }

  /** gnttab's deferred list: end grants once the backend has let go, then free their pages. */
  retryDeferred(): void {
    if (this.deferred.length === 0) return;
    this.deferred = this.deferred.filter((l) => {
      if (!this.domain.grants.releaseRef(l.ref)) return true;
      this.domain.memory.freePage(l.gfn);
      return false;
    });
    if (this.deferred.length === 0 && this.deferredTimer) {
      clearInterval(this.deferredTimer);
      this.deferredTimer = null;
    }
  }

  private emit<K extends keyof NetfrontEvents>(event: K, ...args: Parameters<NetfrontEvents[K]>): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        (fn as (...a: Parameters<NetfrontEvents[K]>) => void)(...args);
      } catch (err) {
        this.log(`${event} listener failed: ${errorText(err)}`);
      }
    }
  }
}

/** One queue's keys, flat (`prefix` empty) or under `queue-<i>/`; split channels as two ports. */
async function writeQueueKeys(prefix: string, q: NetfrontQueue,
  w: (key: string, value: string | number) => unknown): Promise<void> {
  await w(`${prefix}tx-ring-ref`, q.txRingRef);
  await w(`${prefix}rx-ring-ref`, q.rxRingRef);
  if (q.rxPort !== q.port) {
    await w(`${prefix}event-channel-tx`, q.port);
    await w(`${prefix}event-channel-rx`, q.rxPort);
  } else {
    await w(`${prefix}event-channel`, q.port);
  }
}
