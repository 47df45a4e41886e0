// A datapath thread (QEMU's iothread for dataplane devices): the rings and tap I/O of vifs
// run on a worker thread of their own, so the guest's side, the control plane and the datapath
// use separate CPUs. The control side of each vif stays here: xenstore, the grant mappings of
// its rings and the binding of its event channels (acquired here, queue-resources.ts), the
// carrier and offloads of its tap. What crosses: guest memory and grant entries (shared
// memory), event channel sends (a doorbell each way), the counters (shared memory), and the
// control operations, as synchronous calls that the worker answers between two ring sweeps.

import { MessageChannel, Worker } from 'node:worker_threads';
import { emitLogLine, Logger, logLevel } from '../../common/log.js';
import { SyncCaller } from '../../common/sync-call.js';
import { Doorbell } from '../../xen/emulated/evtchn-doorbell.js';
import type { NetClient } from '../net/net-client.js';
import type { Hypervisor } from '../xen-bus.js';
import type { CreateArgs, DatapathEvent, DatapathWorkerData, StartArgs } from './datapath-protocol.js';
import type { QueueInfo } from './queue.js';
import type { CaptureInfo, DatapathStart, VifDatapathControl } from './vif-datapath.js';

/** A control call waits this long for the worker, which answers between sweeps. */
const CALL_TIMEOUT_MS = 5000;

/** The thread has ended (stopped, or failed): its vifs' datapaths are gone with it. */
export class DatapathThreadGone extends Error {
  readonly code = 'EPIPE';
  constructor(name: string, why: string) {
    super(`datapath thread ${name} ${why}`);
    this.name = 'DatapathThreadGone';
  }
}

export interface ThreadedVifOptions {
  name: string;
  backend: number;
  frontend: number;
  peer: NetClient | null;
  stats: SharedArrayBuffer;
  linkUp: boolean;
  onFatal(message: string): void;
}

export class DatapathThread {
  private readonly worker: Worker;
  private readonly caller: SyncCaller;
  private readonly inbound = new Doorbell();
  private readonly outbound = new Doorbell();
  private readonly outboundListener: { stop(): void };
  private readonly vifs = new Map<number, ThreadedVifDatapath>();
  private nextVif = 1;
  private exited: string | null = null;
  private readonly log: Logger;

  /**
   * Starts the worker and resolves once it serves calls. A call before then would sleep on the
   * main thread while the worker's start-up may need it: the two would wait for each other.
   */
  static async start(hv: Hypervisor, backendDomid: number, name = 'datapath0'): Promise<DatapathThread> {
    const t = new DatapathThread(hv, backendDomid, name);
    await t.ready;
    return t;
  }

  private readonly ready: Promise<void>;

  private constructor(private readonly hv: Hypervisor, private readonly backendDomid: number, readonly name: string) {
    this.log = new Logger(`iothread ${name}`);
    const requests = new MessageChannel();
    const replies = new MessageChannel();
    const events = new MessageChannel();
    const replyFlag = new SharedArrayBuffer(4);
    const data: DatapathWorkerData = {
      name, logLevel: logLevel(), requests: requests.port2, replies: replies.port2, events: events.port2, replyFlag,
      inbound: this.inbound.buffer, outbound: this.outbound.buffer,
    };
    this.worker = new Worker(new URL('./datapath-worker.js', import.meta.url), {
      workerData: data, transferList: [requests.port2, replies.port2, events.port2], name,
      // The thread runs a file: an --input-type the process was started with (node -e) does not apply.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
    });
    this.worker.on('error', (err) => this.died(`failed: ${err.stack ?? err.message}`));
    this.worker.on('exit', (code) => this.died(`exited with code ${code}`));
    this.caller = new SyncCaller(requests.port1, replies.port1, replyFlag, `datapath thread ${name}`);
    this.ready = new Promise((resolve, reject) => {
      events.port1.on('message', (e: DatapathEvent) => {
        if (e.kind === 'ready') resolve();
        else this.event(e);
      });
      this.worker.once('exit', () => reject(new Error(`datapath thread ${name} ${this.exited ?? 'exited'}`)));
    });
    void this.ready.then(() => {
      this.worker.unref();
      events.port1.unref();
    }, () => undefined);
    // The datapath's sends, raised on the platform's event channels from this thread.
    this.outboundListener = this.outbound.listen((port) => {
      try {
        this.hv.evtchn.send(this.backendDomid, port);
      } catch {
        // The port was closed since: its vif has disconnected.
      }
    });
  }

  /** Makes the datapath of one vif on this thread; its tap's I/O moves here until close(). */
  attachVif(opts: ThreadedVifOptions): ThreadedVifDatapath {
    const vif = this.nextVif++;
    const dp = new ThreadedVifDatapath(this, vif, opts);
    this.vifs.set(vif, dp);
    return dp;
  }

  /** @internal */
  call(op: string, args: unknown): unknown {
    if (this.exited) throw new DatapathThreadGone(this.name, this.exited);
    return this.caller.call(op, args, CALL_TIMEOUT_MS);
  }

  /** @internal Frontend sends on `port` reach the datapath thread. */
  routePort(port: number): void {
    this.hv.evtchn.setRemote(this.backendDomid, port, () => this.inbound.ring(port));
  }

  /** @internal */
  grantsOf(frontend: number): StartArgs['grants'] {
    return this.hv.grantTable(frontend).shared();
  }

  /** @internal */
  forget(vif: number): void {
    this.vifs.delete(vif);
  }

  /** Stops the worker; vifs still attached lose their datapath. */
  close(): void {
    if (this.exited) return;
    this.exited = 'was stopped';
    this.outboundListener.stop();
    void this.worker.terminate();
  }

  private event(e: DatapathEvent): void {
    if (e.kind === 'log') emitLogLine(e.line);
    else if (e.kind === 'fatal') this.vifs.get(e.vif)?.fatal(e.message);
  }

  private died(why: string): void {
    if (this.exited) return;
    this.exited = why;
    this.outboundListener.stop();
    this.log.error(`${why}: the datapaths of ${this.vifs.size} vif(s) are stopped`);
  }
}

/** The control side's handle on a vif datapath that runs on a DatapathThread. */
export class ThreadedVifDatapath implements VifDatapathControl {
  private closed = false;

  constructor(private readonly thread: DatapathThread, private readonly vif: number, private readonly opts: ThreadedVifOptions) {
    const tap = opts.peer?.lendIo?.() ?? null;
    const args: CreateArgs = {
      vif, name: opts.name, backend: opts.backend, frontend: opts.frontend, tap, stats: opts.stats, linkUp: opts.linkUp,
    };
    try {
      thread.call('create', args);
    } catch (err) {
      opts.peer?.reclaimIo?.();
      throw err;
    }
  }

  /** @internal From the worker. */
  fatal(message: string): void {
    if (!this.closed) this.opts.onFatal(message);
  }

  start(s: DatapathStart): void {
    for (const q of s.queues) {
      this.thread.routePort(q.txPort);
      if (q.rxPort !== q.txPort) this.thread.routePort(q.rxPort);
    }
    this.thread.call('start', { ...s, vif: this.vif, grants: this.thread.grantsOf(this.opts.frontend) } satisfies StartArgs);
  }

  stop(): void {
    this.settle('stop', { vif: this.vif });
  }

  kick(): void {
    this.settle('kick', { vif: this.vif });
  }

  ringInfo(): QueueInfo[] | null {
    return this.settle('ringInfo', { vif: this.vif }) as QueueInfo[] | null ?? null;
  }

  setLink(up: boolean): void {
    this.settle('setLink', { vif: this.vif, up });
  }

  setConnected(connected: boolean): void {
    this.settle('setConnected', { vif: this.vif, connected });
  }

  /**
   * A call that must not fail the control side when the thread is gone: the datapath went with
   * it (its rings are no longer serviced), and the device must still be able to disconnect,
   * unplug and answer queries. Anything else the worker throws is thrown.
   */
  private settle(op: string, args: unknown): unknown {
    try {
      return this.thread.call(op, args);
    } catch (err) {
      if (err instanceof DatapathThreadGone) return undefined;
      throw err;
    }
  }

  startCapture(path: string, snaplen?: number): void {
    this.thread.call('startCapture', { vif: this.vif, path, snaplen });
  }

  stopCapture(): number | null {
    return this.settle('stopCapture', { vif: this.vif }) as number | null ?? null;
  }

  captureInfo(): CaptureInfo | null {
    return this.settle('captureInfo', { vif: this.vif }) as CaptureInfo | null ?? null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.thread.forget(this.vif);
    try {
      this.settle('destroy', { vif: this.vif });
    } finally {
      // The worker has let go of the fd (or is gone): the tap reads and writes here again.
      this.opts.peer?.reclaimIo?.();
    }
  }
}
