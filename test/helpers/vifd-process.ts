// Runs the real `vifd` command (bin/vifd.js) in a namespace and a private directory, the way a
// user would, and stops it again.

import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NetNs } from './netns.js';

export const VIFD_BIN = resolve(process.cwd(), 'bin/vifd.js');

export class VifdProcess {
  stdout = '';
  stderr = '';
  exitCode: number | null = null;
  private readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess, readonly dir: string, readonly qmpPath: string) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((r) => child.on('exit', (code) => {
      this.exitCode = code;
      r(code);
    }));
  }

  /** Starts vifd in `ns` with a QMP socket in a fresh directory, plus `extra` arguments (and a wrapper command such as setpriv). */
  static async start(ns: NetNs, extra: string[] = [], env: NodeJS.ProcessEnv = {},
    opts: { wrapper?: string[] } = {}): Promise<VifdProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'vifd-test-'));
    const qmpPath = join(dir, 'qmp.sock');
    const argv = [process.execPath, VIFD_BIN, '-qmp', `unix:${qmpPath},server=on,wait=off`, ...extra];
    const wrapped = [...(opts.wrapper ?? []), ...argv];
    const child = ns.spawn(wrapped[0]!, wrapped.slice(1), {
      env: { ...process.env, VIFD_LOG: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new VifdProcess(child, dir, qmpPath);
    try {
      const deadline = Date.now() + 15000;
      while (!p.stdout.includes('is running')) {
        if (p.exitCode !== null) throw new Error(`vifd exited with ${p.exitCode}: ${p.stderr}`);
        if (Date.now() > deadline) throw new Error(`vifd did not start: ${p.stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      if (!existsSync(qmpPath)) throw new Error('vifd started but its QMP socket is missing');
    } catch (err) {
      // A caller that expected the failure has no process to stop: its directory goes here.
      await p.stop();
      throw err;
    }
    return p;
  }

  wait(): Promise<number | null> {
    return this.exited;
  }

  /** SIGTERM, then SIGKILL if it does not go within a few seconds; removes its directory. */
  async stop(): Promise<void> {
    if (this.exitCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
