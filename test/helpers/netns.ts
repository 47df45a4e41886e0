// Network namespaces a test creates for itself, so taps and addresses never touch the host's
// own interfaces. Every namespace is deleted again, even when the test fails.

import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions, type SpawnSyncReturns } from 'node:child_process';

let counter = 0;

export class NetNs {
  private constructor(readonly name: string) {}

  static create(prefix = 'vifdt'): NetNs {
    const name = `${prefix}-${process.pid}-${counter++}`;
    execFileSync('ip', ['netns', 'add', name]);
    const ns = new NetNs(name);
    ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs a command inside the namespace; returns stdout, throws with stderr on failure. */
  exec(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8', timeout: opts.timeoutMs ?? 20000, stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
  }

  /**
   * Runs a command inside the namespace and says how it ended, never throwing: its status or
   * signal, its stdout and stderr, and `error` when it could not run or outlived `timeoutMs`
   * (then killed with SIGTERM, `error.code` ETIMEDOUT).
   */
  run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
    return spawnSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8', timeout: opts.timeoutMs ?? 20000, stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
  }

  /** Like exec but reports failure instead of throwing. */
  tryExec(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): { ok: boolean; out: string } {
    try {
      return { ok: true, out: this.exec(cmd, args, opts) };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  hasLink(ifname: string): boolean {
    return this.tryExec('ip', ['link', 'show', ifname]).ok;
  }

  destroy(): void {
    try {
      execFileSync('ip', ['netns', 'pids', this.name], { encoding: 'utf8' }).split('\n').filter(Boolean)
        .forEach((pid) => { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } });
    } catch {
      // the namespace may already be gone
    }
    try {
      execFileSync('ip', ['netns', 'del', this.name]);
    } catch {
      // already deleted
    }
  }
}
