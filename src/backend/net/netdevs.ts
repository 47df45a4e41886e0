// Named netdevs (`-netdev` / netdev_add / HMP netdev_add): the host-side peers a device can
// name with `netdev=`. A netdev serves one device at a time, as in QEMU. Configurations arrive
// here already validated against schema/netdevs (devices/netdev-config.ts); this module opens
// them with QEMU's semantics and error texts.

import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { VifdError } from '../../common/errors.js';
import { DgramNetClient } from './dgram.js';
import { Hubs } from './hub.js';
import type { NetClient } from './net-client.js';
import { DEFAULT_DOWN_SCRIPT, DEFAULT_UP_SCRIPT, isScript, launchScript } from './scripts.js';
import type { NetSocketAddress } from './socket-address.js';
import { StreamNetClient } from './stream.js';
import { TapNetClient } from './tap.js';

export interface TapNetdevOptions {
  id: string;
  ifname?: string;
  fd?: string;
  fds?: string;
  script?: string;
  downscript?: string;
  br?: string;
  helper?: string;
  vnet_hdr?: boolean;
  vhost?: boolean;
  vhostfd?: string;
  vhostfds?: string;
  queues?: number;
}

export type NetdevConfig =
  | ({ type: 'tap' } & TapNetdevOptions)
  | { type: 'hubport'; id: string; hubid: number; netdev?: string }
  | { type: 'dgram'; id: string; local?: NetSocketAddress; remote?: NetSocketAddress }
  | { type: 'stream'; id: string; addr: NetSocketAddress; server?: boolean; reconnect?: number; 'reconnect-ms'?: number };

export const NETDEV_TYPES = ['tap', 'hubport', 'dgram', 'stream'] as const;

interface Entry { client: NetClient; owner: string | null; linkUp: boolean }

export interface NetdevRegistryEvents {
  'stream-connected': [id: string, peer: NetSocketAddress];
  'stream-disconnected': [id: string];
}

const TAP_FD_CONFLICTS = ['ifname', 'script', 'downscript', 'vnet_hdr', 'helper', 'queues', 'fds', 'vhostfds'] as const;

export class NetdevRegistry extends EventEmitter<NetdevRegistryEvents> {
  private readonly entries = new Map<string, Entry>();
  readonly hubs = new Hubs();

  /** Opens a netdev; nothing is registered unless it opened completely. */
  async add(cfg: NetdevConfig): Promise<NetClient> {
    if (this.entries.has(cfg.id)) throw new VifdError('NETDEV_DUPLICATE_ID', cfg.id);
    let client: NetClient;
    switch (cfg.type) {
      case 'tap':
        client = this.openTap(cfg);
        break;
      case 'hubport':
        client = this.openHubport(cfg);
        break;
      case 'dgram':
        client = await this.openDgram(cfg);
        break;
      case 'stream':
        client = await this.openStream(cfg);
        break;
    }
    // Opening may have awaited: a second netdev_add with the same id may have won meanwhile.
    if (this.entries.has(cfg.id)) {
      client.close();
      throw new VifdError('NETDEV_DUPLICATE_ID', cfg.id);
    }
    this.entries.set(cfg.id, { client, owner: null, linkUp: true });
    return client;
  }

  /** The old entry point, kept for callers that only ever make taps. */
  addTap(opts: TapNetdevOptions): NetClient {
    if (this.entries.has(opts.id)) throw new VifdError('NETDEV_DUPLICATE_ID', opts.id);
    const client = this.openTap(opts);
    this.entries.set(opts.id, { client, owner: null, linkUp: true });
    return client;
  }

  get(id: string): NetClient | undefined {
    return this.entries.get(id)?.client;
  }

  ownerOf(id: string): string | null {
    return this.entries.get(id)?.owner ?? null;
  }

  linkUp(id: string): boolean {
    return this.entries.get(id)?.linkUp ?? true;
  }

  /** QEMU's set_link on a netdev: its own link flag; the host side shows it where it can. */
  setLink(id: string, up: boolean): void {
    const e = this.entries.get(id);
    if (!e) throw new VifdError('DEVICE_NOT_FOUND', id);
    e.linkUp = up;
    e.client.setCarrier?.(up);
  }

  /** Hands the netdev to a device of type `typeName`; the device layer checks existence and ownership first. */
  claim(id: string, owner: string, typeName: string): NetClient {
    const e = this.entries.get(id);
    if (!e) throw new VifdError('PROPERTY_NETDEV_NOT_FOUND', typeName, id);
    e.owner = owner;
    return e.client;
  }

  /** `client`: only if the id still names that client (it may have been deleted and re-added). */
  release(id: string, client?: NetClient | null): void {
    const e = this.entries.get(id);
    if (e && (client === undefined || e.client === client)) e.owner = null;
  }

  /**
   * netdev_del. As in QEMU a netdev a device still uses may be deleted: the device keeps a
   * closed peer and its frames are dropped.
   */
  remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) throw new VifdError('DEVICE_NOT_FOUND', id);
    this.entries.delete(id);
    e.client.close();
    // A netdev a hubport had taken as its peer is free again.
    for (const other of this.entries.values()) {
      if (other.owner !== `hubport:${id}`) continue;
      other.owner = null;
      other.client.setReceiver(null);
    }
  }

  list(): Array<{ id: string; client: NetClient; owner: string | null; linkUp: boolean }> {
    return [...this.entries].map(([id, e]) => ({ id, client: e.client, owner: e.owner, linkUp: e.linkUp }));
  }

  closeAll(): void {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) e.client.close();
  }

  // --- tap (QEMU's net_init_tap, without fd passing or the bridge helper)

  private openTap(opts: TapNetdevOptions): NetClient {
    if (opts.fd !== undefined) {
      if (TAP_FD_CONFLICTS.some((k) => opts[k] !== undefined)) throw new VifdError('NETDEV_TAP_INVALID_WITH_FD');
      throw new VifdError('NETDEV_FD_NOT_FOUND', opts.fd);
    }
    // vifd has no getfd command, so no named descriptor can exist.
    if (opts.fds !== undefined) throw new VifdError('NETDEV_FD_NOT_FOUND', opts.fds.split(':')[0]);
    if (opts.helper !== undefined || opts.br !== undefined) {
      throw new VifdError('NETDEV_OPEN_FAILED', 'the bridge helper (helper=, br=) is not supported by vifd; use script=');
    }
    if (opts.vhost === true) throw new VifdError('NETDEV_OPEN_FAILED', 'vhost-net requested but could not be initialized');
    if (opts.queues !== undefined && opts.queues > 1) {
      throw new VifdError('NETDEV_OPEN_FAILED', `multiqueue tap (queues=${opts.queues}) is not supported by vifd`);
    }
    // QEMU's defaults are /etc/qemu-ifup and /etc/qemu-ifdown; vifd uses them only when they
    // exist, so a host without them still gets a plain tap (QEMU would fail with status 256).
    const script = opts.script ?? (existsSync(DEFAULT_UP_SCRIPT) ? DEFAULT_UP_SCRIPT : 'no');
    const downscript = opts.downscript ?? (existsSync(DEFAULT_DOWN_SCRIPT) ? DEFAULT_DOWN_SCRIPT : 'no');
    const ifname = opts.ifname ?? 'tap%d';
    let tap: TapNetClient;
    try {
      tap = new TapNetClient(opts.id, {
        // QEMU's default: a virtio_net_hdr whenever the kernel has one (all kernels vifd runs on).
        id: opts.id, ifname, vnetHdr: opts.vnet_hdr ?? true, downscript,
        info: `script=${script || 'no'},downscript=${downscript || 'no'}`,
      });
    } catch (err) {
      throw new VifdError('NETDEV_OPEN_FAILED', `could not configure /dev/net/tun (${ifname}): ${(err as Error).message}`);
    }
    if (isScript(script)) {
      const status = launchScript(script, tap.ifname);
      if (status !== null) {
        tap.close();
        throw new VifdError('NETDEV_SCRIPT_FAILED', script, status);
      }
    }
    return tap;
  }

  // --- hubport (net/hub.c)

  private openHubport(cfg: { id: string; hubid: number; netdev?: string }): NetClient {
    let peer: Entry | undefined;
    if (cfg.netdev !== undefined) {
      peer = this.entries.get(cfg.netdev);
      if (!peer) throw new VifdError('NETDEV_OPEN_FAILED', `netdev '${cfg.netdev}' not found`);
      if (peer.owner !== null) throw new VifdError('NETDEV_OPEN_FAILED', `netdev '${cfg.netdev}' is in use`);
    }
    const port = this.hubs.addPort(cfg.id, cfg.hubid);
    if (peer) {
      // The named netdev becomes this port's peer: what it receives enters the hub.
      const p = peer.client;
      peer.owner = `hubport:${cfg.id}`;
      port.setReceiver((frame) => p.send(frame));
      p.setReceiver((frame) => port.send(frame));
    }
    return port;
  }

  // --- dgram and stream (net/dgram.c, net/stream.c)

  private async openDgram(cfg: { id: string; local?: NetSocketAddress; remote?: NetSocketAddress }): Promise<NetClient> {
    if (!cfg.remote) {
      throw new VifdError('NETDEV_OPEN_FAILED', cfg.local ? `type=${cfg.local.type} requires remote parameter`
        : 'dgram requires one of remote or local parameter');
    }
    try {
      return await DgramNetClient.open(cfg.id, cfg.local ? { local: cfg.local, remote: cfg.remote } : { remote: cfg.remote });
    } catch (err) {
      throw new VifdError('NETDEV_OPEN_FAILED', (err as Error).message);
    }
  }

  private async openStream(cfg: { id: string; addr: NetSocketAddress; server?: boolean; reconnect?: number;
    'reconnect-ms'?: number }): Promise<NetClient> {
    const server = cfg.server ?? false;
    const reconnectMs = cfg['reconnect-ms'] ?? (cfg.reconnect !== undefined ? cfg.reconnect * 1000 : 0);
    if (server && reconnectMs > 0) throw new VifdError('NETDEV_OPEN_FAILED', "'reconnect-ms' option is incompatible with socket in server listen mode");
    try {
      return await StreamNetClient.open(cfg.id, { addr: cfg.addr, server, reconnectMs }, {
        connected: (id, peer) => this.emit('stream-connected', id, peer),
        disconnected: (id) => this.emit('stream-disconnected', id),
      });
    } catch (err) {
      throw new VifdError('NETDEV_OPEN_FAILED', (err as Error).message);
    }
  }
}
