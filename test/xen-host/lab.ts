// One boot of the real-Xen lab: Xen 4.17 and a PV dom0 in QEMU (machine.ts), dom0's agent on
// the control channel (control.ts), and what tests do with it: dom0 commands (dom0.ts), domUs
// (domu.ts) and QMP bridges to sockets in dom0 (qmp-bridge.ts). Everything of one boot lives
// in one private directory under the temporary directory, removed at power-off.
//
// Tests normally share one boot (shared-lab.ts); Lab.boot() is for a test that needs its own.

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlChannel, field } from './control.js';
import { cpioNewc } from './cpio.js';
import { Dom0 } from './dom0.js';
import { DomU, type DomUOptions } from './domu.js';
import { BRIDGE_PORTS, DEFAULT_MACHINE, Machine, machineFiles, type MachineOptions } from './machine.js';
import { HARNESS, readCache, type XenHostCache } from './prerequisites.js';
import { QmpBridge } from './qmp-bridge.js';

export interface LabOptions extends Partial<MachineOptions> {
  /** QEMU start to dom0's agent ready; default 180 s (a boot takes ~15 s). */
  bootTimeoutMs?: number;
  /** Copy the serial and guest console logs here at power-off (they go with the boot's directory otherwise). */
  keepLogsIn?: string;
}

export interface LabTimings {
  /** QEMU start to dom0's agent answering. */
  bootMs: number;
  /** dom0's uptime when its agent started: the boot as dom0 saw it. */
  dom0UptimeAtReadyS: number;
}

export class Lab {
  private readonly domUs = new Set<DomU>();
  private readonly bridges = new Map<string, QmpBridge>();
  private poweredOff = false;
  /** A run that ends without powerOff() (mocha --exit, a signal) still leaves no directory. */
  private readonly removeOnExit = (): void => rmSync(this.dir, { recursive: true, force: true });

  private constructor(readonly machine: Machine, readonly control: ControlChannel, readonly dom0: Dom0,
    readonly cache: XenHostCache, readonly timings: LabTimings, private readonly opts: LabOptions) {
    process.on('exit', this.removeOnExit);
  }

  /** Boots; rejects (QEMU killed, directory gone) with the console's tail if dom0 does not come up. */
  static async boot(opts: LabOptions = {}): Promise<Lab> {
    const cache = readCache();
    if (typeof cache === 'string') throw new Error(cache);
    const t0 = Date.now();
    const files = machineFiles(mkdtempSync(join(tmpdir(), 'vifd-xen-host-')));
    mkdirSync(files.out);
    // The checkout's own /init, then the cached base: the kernel unpacks one archive after
    // the other (as Debian's early microcode + main initramfs). This order, not the reverse:
    // libxenguest takes a domU ramdisk that starts with gzip's magic for one gzip stream and
    // sizes its buffer from the file's last 4 bytes, which would then be the cpio's.
    const withInit = (base: string, init: string): Buffer =>
      Buffer.concat([cpioNewc([{ name: 'init', mode: 0o755, data: readFileSync(join(HARNESS, init)) }]), readFileSync(base)]);
    writeFileSync(files.dom0Initramfs, withInit(cache.dom0Base, 'dom0/init.sh'));
    writeFileSync(join(files.out, 'domU.cpio'), withInit(cache.domUBase, 'domu/init.sh'));

    const machine = Machine.start(files, cache, { ...DEFAULT_MACHINE, ...opts });
    let control: ControlChannel | null = null;
    try {
      const timeoutMs = opts.bootTimeoutMs ?? 180000;
      control = await ControlChannel.connect(files.ctlSocket, 10000);
      const died = machine.exited.then((why) => { throw new Error(why); });
      died.catch(() => undefined); // only the race below listens, and only until it is won
      const event = await Promise.race([control.waitEvent('ready', timeoutMs), died]);
      void machine.exited.then((why) => control?.fail(new Error(why)));
      const lab = new Lab(machine, control, new Dom0(control), cache,
        { bootMs: Date.now() - t0, dom0UptimeAtReadyS: field(event, 'uptime', 'number') }, opts);
      return lab;
    } catch (err) {
      const tail = machine.serialTail();
      control?.close();
      await machine.stop();
      rmSync(files.dir, { recursive: true, force: true });
      throw new Error(`the Xen lab did not boot: ${(err as Error).message}\n--- serial console:\n${tail}`);
    }
  }

  get dir(): string {
    return this.machine.files.dir;
  }

  /** The writable share: the same path on the host and in dom0. */
  get outDir(): string {
    return this.machine.files.out;
  }

  /** A PV domU without a vif, its command loop answering (see DomUOptions). */
  async createDomU(opts: DomUOptions): Promise<DomU> {
    const d = await DomU.create({ dom0: this.dom0, vmlinux: this.cache.vmlinux, ramdisk: join(this.outDir, 'domU.cpio'), consoleDir: this.outDir }, opts);
    this.domUs.add(d);
    return d;
  }

  /** The domUs created through this lab and not destroyed. */
  liveDomUs(): DomU[] {
    return [...this.domUs].filter((d) => !d.isDestroyed);
  }

  /** A host socket (its `path`) reaching `dom0Path` in dom0; close() it to free its port. */
  async qmpBridge(dom0Path: string): Promise<QmpBridge> {
    const i = BRIDGE_PORTS.findIndex((p) => !this.bridges.has(p));
    if (i < 0) throw new Error(`all ${BRIDGE_PORTS.length} QMP bridges are in use`);
    const port = BRIDGE_PORTS[i]!;
    const bridge = await QmpBridge.listen(this.control, port, this.machine.files.bridgeSockets[i]!, join(this.dir, `bridge${i}.sock`),
      dom0Path, () => this.bridges.delete(port));
    this.bridges.set(port, bridge);
    return bridge;
  }

  /** The bridges not closed yet. */
  openBridges(): QmpBridge[] {
    return [...this.bridges.values()];
  }

  /** The last lines of the serial console (Xen and dom0). */
  serialTail(lines = 30): string {
    return this.machine.serialTail(lines);
  }

  /** Kills QEMU (dom0's state is thrown away anyway) and removes the boot's directory; idempotent. */
  async powerOff(): Promise<void> {
    if (this.poweredOff) return;
    this.poweredOff = true;
    await Promise.all([...this.bridges.values()].map((b) => b.close().catch(() => undefined)));
    this.control.close();
    await this.machine.stop();
    if (this.opts.keepLogsIn) this.keepLogs(this.opts.keepLogsIn);
    process.off('exit', this.removeOnExit);
    this.removeOnExit();
  }

  private keepLogs(to: string): void {
    mkdirSync(to, { recursive: true });
    copyFileSync(this.machine.files.serialLog, join(to, 'serial.log'));
    for (const f of readdirSync(this.outDir)) if (f.startsWith('guest-')) copyFileSync(join(this.outDir, f), join(to, f));
    const procs = join(this.outDir, 'procs');
    if (!existsSync(procs)) return;
    for (const f of readdirSync(procs, { withFileTypes: true })) if (f.isFile()) copyFileSync(join(procs, f.name), join(to, `dom0-${f.name}`));
  }
}
