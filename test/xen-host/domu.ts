// Real Linux PV domUs: the cached kernel with a busybox initramfs (domu/init.sh) whose
// xen-netfront is the real one. They start without a vif: tests hot-plug theirs. Each is
// driven over its console, which does not depend on the network under test: dom0 types a job
// on the console's pty (xenconsoled's, as `xl console` uses), and xenconsoled logs the
// domU's answer into the shared directory, where this side reads it directly.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, sleep, type Dom0, type RunResult } from './dom0.js';

export interface DomUOptions {
  /** The xl domain name; also names its console log. */
  name: string;
  /** Address of each ethN whenever it appears, e.g. { eth0: '10.99.0.2/24' }. */
  addresses?: Record<string, string>;
  /** xen-netfront's module parameters, e.g. { max_queues: 2 }. */
  netfront?: Record<string, string | number>;
  memoryMiB?: number;
  vcpus?: number;
  /** More kernel command line. */
  extraArgs?: string;
  /** For `xl create` up to the command loop answering; default 120 s. */
  timeoutMs?: number;
}

/** What a domU needs from the lab that runs it. */
export interface DomUHost {
  dom0: Dom0;
  vmlinux: string;
  ramdisk: string;
  /** Where xenconsoled writes guest-<name>.log (the shared directory). */
  consoleDir: string;
}

/** A script is one console line of base64: the domU's tty takes lines up to 4095 bytes. */
const MAX_SCRIPT_B64 = 3000;
const ACK_MS = 5000;

export class DomU {
  private tty: string | null = null;
  private destroyed = false;
  private jobs = 0;

  private constructor(private readonly host: DomUHost, readonly name: string, readonly domid: number, readonly consoleLog: string) {}

  /** `xl create`, then waits until netfront is loaded and the command loop answers. */
  static async create(host: DomUHost, opts: DomUOptions): Promise<DomU> {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(opts.name)) throw new Error(`bad domain name '${opts.name}'`);
    const timeoutMs = opts.timeoutMs ?? 120000;
    const deadline = Date.now() + timeoutMs;
    const consoleLog = join(host.consoleDir, `guest-${opts.name}.log`);
    rmSync(consoleLog, { force: true }); // xenconsoled appends to a name's old log
    const args = [
      'console=hvc0', 'loglevel=4', // kernel chatter stays off the console the jobs answer on
      ...Object.entries(opts.addresses ?? {}).map(([dev, addr]) => `vifd.${dev}=${addr}`),
      ...Object.entries(opts.netfront ?? {}).map(([k, v]) => `xen_netfront.${k}=${v}`),
      ...(opts.extraArgs ? [opts.extraArgs] : []),
    ].join(' ');
    const cfg = `/run/vifd-domu-${opts.name}.cfg`;
    await host.dom0.writeFile(cfg, [
      `name = "${opts.name}"`, 'type = "pv"', `kernel = "${host.vmlinux}"`, `ramdisk = "${host.ramdisk}"`,
      `extra = "${args}"`, `memory = ${opts.memoryMiB ?? 128}`, `vcpus = ${opts.vcpus ?? 1}`, 'on_crash = "preserve"', '',
    ].join('\n'));
    let domid: number;
    try {
      await host.dom0.sh(['xl', 'create', cfg], { timeoutMs: 60000 });
      domid = Number((await host.dom0.sh(['xl', 'domid', opts.name], { timeoutMs: 10000 })).trim());
    } catch (err) {
      // xl may have got as far as making the domain: none is left behind.
      await host.dom0.run(['xl', 'destroy', opts.name], { timeoutMs: 30000 }).catch(() => undefined);
      throw err;
    }
    const d = new DomU(host, opts.name, domid, consoleLog);
    try {
      await d.waitConsole(/VIFD-DOMU: xen-netfront loaded/, { timeoutMs: Math.max(deadline - Date.now(), 1000) });
      await d.waitConsole(/VIFD-DOMU: ready/, { timeoutMs: Math.max(deadline - Date.now(), 1000) });
      const r = await d.run('echo alive', { timeoutMs: 15000 });
      if (r.rc !== 0 || r.stdout.trim() !== 'alive') throw new Error(`its command loop answered ${JSON.stringify(r)}`);
    } catch (err) {
      const tail = d.console().split('\n').slice(-15).join('\n');
      await d.destroy().catch(() => undefined);
      throw new Error(`domU ${opts.name} did not come up: ${(err as Error).message}\n--- its console:\n${tail}`);
    }
    return d;
  }

  /** Its console so far (from byte `from`), without carriage returns. */
  console(from = 0): string {
    if (!existsSync(this.consoleLog)) return '';
    return readFileSync(this.consoleLog).subarray(from).toString('latin1').replace(/\r/g, '');
  }

  /** The console's length now: pass it as `after` to wait only for lines that come later. */
  mark(): number {
    return existsSync(this.consoleLog) ? readFileSync(this.consoleLog).length : 0;
  }

  /** The first console line matching `re` (after byte `after`). */
  async waitConsole(re: RegExp, opts: { after?: number; timeoutMs?: number } = {}): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? 30000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.console(opts.after ?? 0).split('\n').find((l) => re.test(l));
      if (line !== undefined) return line;
      if (Date.now() > deadline) {
        const said = this.console(opts.after ?? 0).split('\n').filter((l) => l.includes('VIFD-DOMU:')).slice(-10);
        throw new Error(`${this.name}: no console line matching ${re} within ${timeoutMs / 1000} s`
          + `; what it said meanwhile: ${said.length ? `\n${said.join('\n')}` : 'nothing'}`);
      }
      await sleep(100);
    }
  }

  /** Starts `script` (sh) in the domU, killed there after `timeoutMs`; wait() for its end. */
  async start(script: string, opts: { timeoutMs?: number } = {}): Promise<DomUJob> {
    const secs = Math.ceil((opts.timeoutMs ?? 30000) / 1000);
    const b64 = Buffer.from(script).toString('base64');
    if (b64.length > MAX_SCRIPT_B64) throw new Error(`script too long for one console line (${b64.length} base64 bytes)`);
    this.tty ??= await this.host.dom0.xenstoreRead(`/local/domain/${this.domid}/console/tty`);
    const job = `j${process.pid}x${++this.jobs}`;
    const after = this.mark();
    // A line typed while the domU's reader restarts can get lost: resend until acknowledged.
    for (let attempt = 1; attempt <= 3; attempt++) {
      await this.host.dom0.writeFile(this.tty, `\nVIFD-CMD ${job} ${secs} ${b64}\n`);
      try {
        await this.waitConsole(new RegExp(`^VIFD-ACK ${job}$`), { after, timeoutMs: ACK_MS });
        return new DomUJob(this, job, after, secs * 1000);
      } catch { /* not acknowledged: type it again */ }
    }
    throw new Error(`${this.name} did not acknowledge a job (its console: ${this.console().split('\n').slice(-5).join(' | ')})`);
  }

  /** Runs `script` in the domU; its output (stdout and stderr together) and exit code (137: killed at its timeout). */
  async run(script: string, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return (await this.start(script, opts)).wait();
  }

  /** Like run, but the output, or CommandError if it fails. */
  async sh(script: string, opts: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(script, opts);
    if (r.rc !== 0) throw new CommandError(`${this.name}: ${script}`, { ...r, stderr: r.stdout });
    return r.stdout;
  }

  /** `xl destroy`; idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.host.dom0.sh(['xl', 'destroy', this.name], { timeoutMs: 30000 });
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }
}

export class DomUJob {
  private readonly t0 = Date.now();

  constructor(private readonly domU: DomU, readonly id: string, private readonly after: number, private readonly limitMs: number) {}

  /** Waits for its end (its own limit, plus time for the answer to come back). */
  async wait(): Promise<RunResult> {
    const end = await this.domU.waitConsole(new RegExp(`^VIFD-END ${this.id} rc=\\d+$`), { after: this.after, timeoutMs: this.limitMs + 15000 });
    const text = this.domU.console(this.after);
    const begin = `VIFD-BEGIN ${this.id}\n`;
    const from = text.indexOf(begin) + begin.length;
    const stdout = text.slice(from, text.indexOf(`${end}`, from));
    const rc = Number(/rc=(\d+)$/.exec(end)![1]);
    return { rc, stdout, stderr: '', ms: Date.now() - this.t0, timedOut: rc === 137 };
  }
}
