// dom0 as the tests see it: run commands (concurrently, each bounded), start and stop
// background processes (their output lands in the shared directory, readable here as it is
// written), write files and ttys, and the xenstore with the retries real Xen needs.

import { existsSync, readFileSync } from 'node:fs';
import { field, type ControlChannel, type Json } from './control.js';

export interface RunOptions {
  /** Killed (its whole process group) after this long; default 60 s. */
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
}

export interface RunResult {
  rc: number;
  stdout: string;
  stderr: string;
  /** How long it ran in dom0. */
  ms: number;
  timedOut: boolean;
}

/** A command failed: its exit code and what it said are in the message. */
export class CommandError extends Error {
  constructor(readonly what: string, readonly result: RunResult) {
    super(`${what}: ${result.timedOut ? 'timed out' : `exit code ${result.rc}`}${result.stderr.trim() ? `: ${result.stderr.trim().slice(-800)}` : ''}`);
  }
}

/** A mapping line of /proc/PID/maps. */
export interface MapEntry {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  path: string;
  line: string;
}

/** Replies take this long beyond the command's own limit before the host gives up on them. */
const REPLY_MARGIN_MS = 15000;

export class Dom0 {
  private readonly procs = new Map<string, Dom0Process>();

  constructor(private readonly control: ControlChannel) {
    control.onEvent((e) => {
      if (e['event'] !== 'exited' || typeof e['name'] !== 'string') return;
      // By pid too: the exit of a process stopped a moment ago can come after its successor started.
      const proc = this.procs.get(e['name']);
      if (proc && proc.pid === e['pid']) proc.settle(typeof e['rc'] === 'number' ? e['rc'] : null);
    });
  }

  /** Runs `cmd` (a bash command line, or an argv) as root in dom0, from the checkout. */
  async run(cmd: string | readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? 60000;
    const reply = await this.control.request('run', {
      ...(typeof cmd === 'string' ? { cmd } : { argv: cmd }),
      timeout: timeoutMs / 1000, cwd: opts.cwd, env: opts.env, input: opts.input,
    }, timeoutMs + REPLY_MARGIN_MS);
    return {
      rc: field(reply, 'rc', 'number'),
      stdout: field(reply, 'stdout', 'string'),
      stderr: field(reply, 'stderr', 'string'),
      ms: field(reply, 'ms', 'number'),
      timedOut: field(reply, 'timedOut', 'boolean'),
    };
  }

  /** Like run, but its stdout, or CommandError if it fails. */
  async sh(cmd: string | readonly string[], opts: RunOptions = {}): Promise<string> {
    const r = await this.run(cmd, opts);
    if (r.rc !== 0 || r.timedOut) throw new CommandError(typeof cmd === 'string' ? cmd : cmd.join(' '), r);
    return r.stdout;
  }

  /** Starts a background process called `name` (unique while it runs) in its own session. */
  async start(name: string, cmd: string | readonly string[], opts: Omit<RunOptions, 'timeoutMs' | 'input'> = {}): Promise<Dom0Process> {
    const reply = await this.control.request('start', {
      name, ...(typeof cmd === 'string' ? { cmd } : { argv: cmd }), cwd: opts.cwd, env: opts.env,
    }, REPLY_MARGIN_MS);
    const proc = new Dom0Process(this.control, name, field(reply, 'pid', 'number'),
      field(reply, 'stdout', 'string'), field(reply, 'stderr', 'string'));
    this.procs.set(name, proc);
    return proc;
  }

  /** The background processes that have not exited. */
  running(): Dom0Process[] {
    return [...this.procs.values()].filter((p) => p.exitCode === undefined);
  }

  /** Writes a file, or a line to a tty (paths under /dev/ are opened without truncating). */
  async writeFile(path: string, data: string, opts: { mode?: number; append?: boolean } = {}): Promise<void> {
    await this.control.request('write', { path, data, mode: opts.mode ?? 0o644, append: opts.append ?? false }, REPLY_MARGIN_MS);
  }

  /**
   * xenstore-read with retries: on real Xen a read now and then fails, or comes back empty,
   * once, right after a domain changes state. An empty value is returned only if `allowEmpty`.
   */
  async xenstoreRead(path: string, opts: { allowEmpty?: boolean; tries?: number } = {}): Promise<string> {
    const tries = opts.tries ?? 10;
    let last: RunResult | null = null;
    for (let i = 0; i < tries; i++) {
      if (i > 0) await sleep(200);
      last = await this.run(['xenstore-read', path], { timeoutMs: 10000 });
      const value = last.stdout.replace(/\n$/, '');
      if (last.rc === 0 && (value !== '' || opts.allowEmpty)) return value;
    }
    throw new CommandError(`xenstore-read ${path} (${tries} tries)`, last!);
  }

  /** Writes each path's value, in one xenstore-write. */
  async xenstoreWrite(entries: Record<string, string | number>): Promise<void> {
    await this.sh(['xenstore-write', ...Object.entries(entries).flatMap(([k, v]) => [k, String(v)])], { timeoutMs: 10000 });
  }

  /** Removes `path` and everything below it. */
  async xenstoreRm(path: string): Promise<void> {
    await this.sh(['xenstore-rm', path], { timeoutMs: 10000 });
  }

  /** The names below `path` (xenstore-list), with the same retries as reads. */
  async xenstoreLs(path: string): Promise<string[]> {
    let last: RunResult | null = null;
    for (let i = 0; i < 5; i++) {
      if (i > 0) await sleep(200);
      last = await this.run(['xenstore-list', path], { timeoutMs: 10000 });
      if (last.rc === 0) return last.stdout.split('\n').filter(Boolean);
    }
    throw new CommandError(`xenstore-list ${path}`, last!);
  }

  /** Every node below `path` with its value (xenstore-ls -f). */
  async xenstoreTree(path: string): Promise<Map<string, string>> {
    const out = await this.sh(['xenstore-ls', '-f', path], { timeoutMs: 10000 });
    const tree = new Map<string, string>();
    for (const line of out.split('\n')) {
      const m = /^(\S+) = "(.*)"$/.exec(line);
      if (m) tree.set(m[1]!, m[2]!);
    }
    return tree;
  }

  /** /proc/PID/maps of a dom0 process, parsed (grant maps show up as /dev/xen/gntdev). */
  async procMaps(pid: number): Promise<MapEntry[]> {
    const out = await this.sh(['cat', `/proc/${pid}/maps`], { timeoutMs: 10000 });
    return out.split('\n').filter(Boolean).map((line) => {
      const [range = '', perms = '', offset = '0', , , ...path] = line.split(/\s+/);
      const [start = '0', end = '0'] = range.split('-');
      return { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), perms, offset: BigInt(`0x${offset}`), path: path.join(' '), line };
    });
  }
}

export interface StopResult {
  /** Exit code; negative: killed by that signal (as Python reports it). */
  rc: number | null;
  /** True when it outlived the signal and was SIGKILLed. */
  killed: boolean;
  stdout: string;
  stderr: string;
}

/** A process started in dom0; its output is in files of the shared directory. */
export class Dom0Process {
  /** undefined while it runs; its exit code (or null) afterwards. */
  exitCode: number | null | undefined = undefined;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly control: ControlChannel, readonly name: string, readonly pid: number,
    readonly stdoutPath: string, readonly stderrPath: string) {}

  settle(rc: number | null): void {
    this.exitCode = rc;
    for (const w of this.waiters.splice(0)) w();
  }

  get stdout(): string {
    return readLog(this.stdoutPath);
  }

  get stderr(): string {
    return readLog(this.stderrPath);
  }

  /** Waits until its stdout or stderr matches `re`; fails early if it exits first. */
  async waitOutput(re: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = `${this.stdout}\n${this.stderr}`;
      const m = re.exec(text);
      if (m) return m[0];
      if (this.exitCode !== undefined) throw new Error(`${this.name} exited (${this.exitCode}) before printing ${re}: ${this.stderr.slice(-800)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${re} within ${timeoutMs / 1000} s: ${this.stderr.slice(-800)}`);
      await sleep(100);
    }
  }

  /** Resolves when it has exited (the agent reports every exit). */
  async exited(timeoutMs: number): Promise<number | null> {
    if (this.exitCode === undefined) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${this.name} still runs after ${timeoutMs / 1000} s`)), timeoutMs);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.exitCode ?? null;
  }

  /** Signals its process group, SIGKILL after `timeoutMs`; its exit code and output. */
  async stop(opts: { signal?: 'TERM' | 'INT' | 'KILL'; timeoutMs?: number } = {}): Promise<StopResult> {
    const reply: Json = await this.control.request('stop', { name: this.name, signal: opts.signal ?? 'TERM', timeout: (opts.timeoutMs ?? 5000) / 1000 },
      (opts.timeoutMs ?? 5000) + REPLY_MARGIN_MS);
    const rc = typeof reply['rc'] === 'number' ? reply['rc'] : null;
    if (this.exitCode === undefined) this.settle(rc);
    return { rc, killed: reply['killed'] === true, stdout: this.stdout, stderr: this.stderr };
  }
}

function readLog(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
