// Named netdevs (`-netdev` / netdev_add): the host-side peers a device can name with `netdev=`.
// A netdev serves one device at a time, as in QEMU.

import { VifdError } from '../../common/errors.js';
import type { NetClient } from './net-client.js';
import { TapNetClient } from './tap.js';

export interface TapNetdevOptions {
  id: string;
  ifname?: string;
  script?: string;
  downscript?: string;
  vnet_hdr?: boolean;
}

interface Entry { client: NetClient; owner: string | null }

export class NetdevRegistry {
  private readonly entries = new Map<string, Entry>();
  private tapCount = 0;

  addTap(opts: TapNetdevOptions): NetClient {
    if (this.entries.has(opts.id)) throw new VifdError('NETDEV_DUPLICATE_ID', opts.id);
    if (opts.script !== undefined && opts.script !== 'no' && opts.script !== '') {
      throw new VifdError('NETDEV_OPEN_FAILED', `netdev ${opts.id}: script=${opts.script} is not supported yet; use script=no`);
    }
    const ifname = opts.ifname ?? `tap${this.tapCount}`;
    let client: NetClient;
    try {
      client = new TapNetClient(opts.id, { id: opts.id, ifname, vnetHdr: opts.vnet_hdr ?? false });
    } catch (err) {
      throw new VifdError('NETDEV_OPEN_FAILED', `could not configure /dev/net/tun (${ifname}): ${(err as Error).message}`);
    }
    this.tapCount++;
    this.entries.set(opts.id, { client, owner: null });
    return client;
  }

  get(id: string): NetClient | undefined {
    return this.entries.get(id)?.client;
  }

  ownerOf(id: string): string | null {
    return this.entries.get(id)?.owner ?? null;
  }

  /** Hands the netdev to a device; the device layer checks existence and ownership first. */
  claim(id: string, owner: string): NetClient {
    const e = this.entries.get(id);
    if (!e) throw new VifdError('INTERNAL', `netdev ${id} does not exist`);
    e.owner = owner;
    return e.client;
  }

  release(id: string): void {
    const e = this.entries.get(id);
    if (e) e.owner = null;
  }

  remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) throw new VifdError('DEVICE_NOT_FOUND', id);
    e.client.close();
    this.entries.delete(id);
  }

  list(): Array<{ id: string; client: NetClient; owner: string | null }> {
    return [...this.entries].map(([id, e]) => ({ id, client: e.client, owner: e.owner }));
  }

  closeAll(): void {
    for (const e of this.entries.values()) e.client.close();
    this.entries.clear();
  }
}
