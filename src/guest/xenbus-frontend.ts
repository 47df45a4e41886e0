// A guest kernel's xenbus frontend bus (Linux drivers/xen/xenbus/xenbus_probe_frontend.c) for one
// device class: it watches /local/domain/<self>/device/<class>, probes a driver for each device
// directory that shows a `backend` key and `state` = Initialising, and removes the driver when the
// directory disappears.
//
// The watch covers the whole subtree, so any write below it rescans; rescans run one at a time
// and coalesce, and each looks at the store as it is then (events only say "look again").

import { XenbusState } from '../protocol/xenbus.js';
import {
  defaultGuestLog, errorText, type GuestLog, type GuestXs, listDirectory, readString, type WatchHandle,
  type XsWatches,
} from './xs.js';

export interface FrontendDriver<D> {
  /** Creates and starts the driver for a new device. A rejection is logged; the device is not retried. */
  probe(devid: number): Promise<D>;
  /** The device directory is gone. */
  remove(device: D, devid: number): void;
}

export class XenbusFrontend<D> {
  readonly base: string;
  readonly devices = new Map<number, D>();
  /** Devices whose probe failed, so a rescan does not probe them again while the directory stays. */
  private readonly failed = new Set<number>();
  private readonly probing = new Set<number>();
  private readonly log: GuestLog;
  private watch: WatchHandle | null = null;
  private scanning: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(private readonly xs: GuestXs, private readonly watches: XsWatches, readonly domid: number,
    readonly deviceClass: string, private readonly driver: FrontendDriver<D>, log: GuestLog = defaultGuestLog) {
    this.base = `/local/domain/${domid}/device/${deviceClass}`;
    this.log = (line) => log(`xenbus ${domid}/${deviceClass}: ${line}`);
  }

  async start(): Promise<void> {
    if (this.watch || this.stopped) return;
    this.watch = await this.watches.add(this.base, () => void this.rescan());
  }

  /** Stops watching; devices are left to the caller (see Guest.stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch?.remove();
    this.watch = null;
    await this.scanning;
  }

  /** Resolves once no scan is running or pending. */
  async settled(): Promise<void> {
    while (this.scanning) await this.scanning;
  }

  rescan(): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.again = false;
        try {
          await this.scanOnce();
        } catch (err) {
          this.log(`scan failed: ${errorText(err)}`);
        }
      } while (this.again && !this.stopped);
      this.scanning = null;
    })();
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    if (this.stopped) return;
    const present = new Set<number>();
    for (const name of await listDirectory(this.xs, this.base)) {
      if (/^(0|[1-9]\d{0,8})$/.test(name)) present.add(Number(name));
    }
    for (const [devid, device] of this.devices) {
      if (present.has(devid)) continue;
      this.devices.delete(devid);
      this.log(`device ${devid} removed`);
      try {
        this.driver.remove(device, devid);
      } catch (err) {
        this.log(`removing device ${devid} failed: ${errorText(err)}`);
      }
    }
    for (const devid of this.failed) if (!present.has(devid)) this.failed.delete(devid);
    for (const devid of [...present].sort((a, b) => a - b)) {
      if (this.devices.has(devid) || this.failed.has(devid) || this.probing.has(devid)) continue;
      if (await this.isConnecting(devid)) await this.probe(devid);
    }
  }

  /** What xenbus_probe_node waits for: a backend to talk to, and a device nobody has set up yet. */
  private async isConnecting(devid: number): Promise<boolean> {
    const dir = `${this.base}/${devid}`;
    const backend = await readString(this.xs, `${dir}/backend`);
    const state = await readString(this.xs, `${dir}/state`);
    return !!backend && state === String(XenbusState.Initialising);
  }

  private async probe(devid: number): Promise<void> {
    this.probing.add(devid);
    try {
      const device = await this.driver.probe(devid);
      if (this.stopped) {
        this.driver.remove(device, devid);
        return;
      }
      this.devices.set(devid, device);
      this.log(`device ${devid} probed`);
    } catch (err) {
      this.failed.add(devid);
      this.log(`probing device ${devid} failed: ${errorText(err)}`);
    } finally {
      this.probing.delete(devid);
    }
  }
}
