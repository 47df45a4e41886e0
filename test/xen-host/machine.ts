// The emulated machine: qemu-system-x86_64 (TCG; no KVM needed) booting Xen with a PV dom0.
//
//   multiboot kernel   xen (cache)                    serial console -> <dir>/serial.log
//   module 1           vmlinux + dom0's command line
//   module 2           <dir>/dom0.cpio: the cached base + the checkout's dom0/init.sh
//   virtio-9p          hostroot = this machine's /, read-only (dom0's root, under an overlay)
//   virtio-9p          vifdout  = <dir>/out, writable, at the same path in dom0
//   virtio-serial      vifd.ctl -> <dir>/ctl.sock          (control.ts <-> agent.py)
//                      vifd.qmpN -> <dir>/qmpN.sock        (qmp-bridge.ts <-> agent.py)
//   -net none          guest traffic never leaves the emulated machine
//
// QEMU is killed when this process exits, however it exits: a test run never leaves one behind.
// It is also killed when Xen or dom0 dies (Xen's `noreboot` would leave it spinning): whoever
// waits on the lab learns at once, with the line that said so.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, type XenHostCache } from './prerequisites.js';

export const BRIDGE_PORTS = ['vifd.qmp0', 'vifd.qmp1', 'vifd.qmp2'] as const;

export interface MachineOptions {
  /** CPUs of the emulated machine (TCG runs one host thread per CPU). */
  smp: number;
  /** QEMU's CPU model (see DEFAULT_MACHINE). */
  cpu: string;
  memMiB: number;
  dom0MemMiB: number;
  dom0Vcpus: number;
  xenstored: 'xenstored' | 'oxenstored';
}

// The CPU: not `max`. With max (QEMU 10 TCG), processes in dom0 and the domUs die at random
// (node SIGSEGV in 4 of 5 starts; a byte missing from a script busybox had just read; xl
// aborting on a corrupt heap; a sysfs read coming back empty); with -xsaveopt still 1 in 5.
// SandyBridge and Nehalem: 0 in 6 and 0 in 5, with the same load. Nehalem, the plainer of the
// two (no XSAVE, no AVX), is enough for everything dom0 and the domUs run. Said to be AMD's
// (as max is), a PV domU's kernel gives up its PIT calibration of the TSC in 0.5 s instead of
// 2 s, and domUs come up in 6-7 s instead of 9-12 s (node in dom0 starts faster too; still 0
// failures in 6).
export const DEFAULT_MACHINE: MachineOptions = {
  smp: 2, cpu: 'Nehalem,vendor=AuthenticAMD', memMiB: 3072, dom0MemMiB: 1024, dom0Vcpus: 1, xenstored: 'xenstored',
};

/** Where each piece of one boot lives, under its private directory. */
export interface MachineFiles {
  dir: string;
  out: string;
  dom0Initramfs: string;
  serialLog: string;
  ctlSocket: string;
  bridgeSockets: string[];
}

export function machineFiles(dir: string): MachineFiles {
  return {
    dir,
    out: join(dir, 'out'),
    dom0Initramfs: join(dir, 'dom0.cpio'),
    serialLog: join(dir, 'serial.log'),
    ctlSocket: join(dir, 'ctl.sock'),
    bridgeSockets: BRIDGE_PORTS.map((_, i) => join(dir, `qmp${i}.sock`)),
  };
}

/** Serial console lines after which nothing will answer any more. */
const FATAL = /Hardware Dom0 crashed|Kernel panic - not syncing|Panic on CPU \d+|VIFD-DOM0: FAILED.*/;

export class Machine {
  private stderr = '';
  private exitReason: string | null = null;
  private fatal: string | null = null;
  private serialSeen = 0;
  private readonly watcher: NodeJS.Timeout;
  /** Resolves with how QEMU ended (exit code or signal, and what it said on stderr). */
  readonly exited: Promise<string>;
  private readonly killOnExit = (): void => { this.child.kill('SIGKILL'); };

  private constructor(private readonly child: ChildProcess, readonly files: MachineFiles) {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-4000); });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        process.off('exit', this.killOnExit);
        clearInterval(this.watcher);
        this.exitReason = this.fatal !== null
          ? `the emulated machine died: "${this.fatal}"`
          : `QEMU exited (${signal ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim()}` : ''}`;
        resolve(this.exitReason);
      });
    });
    process.on('exit', this.killOnExit);
    this.watcher = setInterval(() => this.watchSerial(), 500);
    this.watcher.unref();
  }

  private watchSerial(): void {
    if (!existsSync(this.files.serialLog)) return;
    const fd = openSync(this.files.serialLog, 'r');
    try {
      const chunk = Buffer.alloc(1 << 20);
      // Lines can straddle two reads: look again from a little before where the last one ended.
      const from = Math.max(0, this.serialSeen - 200);
      const n = readSync(fd, chunk, 0, chunk.length, from);
      this.serialSeen = from + n;
      const m = FATAL.exec(chunk.subarray(0, n).toString('latin1'));
      if (m && this.fatal === null) {
        this.fatal = m[0].trim();
        this.child.kill('SIGKILL');
      }
    } finally {
      closeSync(fd);
    }
  }

  static start(files: MachineFiles, cache: XenHostCache, opts: MachineOptions): Machine {
    const xenArgs = [
      'console=com1', 'com1=115200,8n1', 'loglvl=all', 'guest_loglvl=all', 'console_timestamps=boot', 'noreboot',
      `dom0_mem=${opts.dom0MemMiB}M,max:${opts.dom0MemMiB}M`, `dom0_max_vcpus=${opts.dom0Vcpus}`,
      // Xen would otherwise scrub all free memory at boot, seconds of TCG for nothing.
      'bootscrub=0',
    ].join(' ');
    const dom0Args = [
      'console=hvc0', 'earlyprintk=xen',
      `vifd.repo=${REPO}`, `vifd.out=${files.out}`, `vifd.cache=${cache.dir}`, `vifd.xenstored=${opts.xenstored}`,
    ].join(' ');
    const args = [
      '-machine', 'pc', '-accel', 'tcg', '-cpu', opts.cpu, '-smp', String(opts.smp), '-m', String(opts.memMiB),
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-chardev', `file,id=serial,path=${files.serialLog}`, '-serial', 'chardev:serial',
      '-kernel', cache.xen, '-append', xenArgs,
      // Multiboot modules, comma-separated, each with its command line after a space.
      '-initrd', `${cache.vmlinux} ${dom0Args},${files.dom0Initramfs}`,
      '-fsdev', 'local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap',
      '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
      '-fsdev', `local,id=vifdout,path=${files.out},security_model=passthrough,multidevs=remap`,
      '-device', 'virtio-9p-pci,fsdev=vifdout,mount_tag=vifdout',
      '-device', 'virtio-serial-pci,id=vser',
      '-chardev', `socket,id=ctl,path=${files.ctlSocket},server=on,wait=off`,
      '-device', 'virtserialport,bus=vser.0,chardev=ctl,name=vifd.ctl',
      ...BRIDGE_PORTS.flatMap((name, i) => [
        '-chardev', `socket,id=qmp${i},path=${files.bridgeSockets[i]},server=on,wait=off`,
        '-device', `virtserialport,bus=vser.0,chardev=qmp${i},name=${name}`,
      ]),
      '-net', 'none',
    ];
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Machine(child, files);
  }

  /** Null while QEMU runs; afterwards, how it ended. */
  get deadReason(): string | null {
    return this.exitReason;
  }

  /** The last lines of the serial console (Xen and dom0), for error messages. */
  serialTail(lines = 30): string {
    if (!existsSync(this.files.serialLog)) return '(no serial output)';
    const text = readFileSync(this.files.serialLog, 'latin1').replace(/\r/g, '');
    return text.split('\n').slice(-lines).join('\n');
  }

  /** Stops QEMU: SIGTERM (QEMU exits at once on it), SIGKILL if it is still there after 5 s. */
  async stop(): Promise<void> {
    if (this.exitReason !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
