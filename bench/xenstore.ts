// Xenstore throughput: READ, WRITE and watch-fire operations per second over the wire socket
// (one connection, and many at once) and in-process, with a reference run in the same script
// against Xen's own oxenstored 4.17 (Debian), and the per-test times Xen's test-xenstore reports
// for both. The last line printed is one JSON object.
//
// Socket clients are sequential like libxenstore (one request outstanding per connection), so
// one connection measures round trips; N connections measure what the server does with load.
// vifd runs as its real CLI in a child process, the way tools meet it.
//
// The reference is oxenstored run without a hypervisor (test/helpers/oxenstored.ts says how).
// Needs root for the reference; without it the reference is reported as unavailable.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { XenStore } from '../src/xen/xenstore/index.js';
import { XsClient } from '../src/xen/xenstore/wire/client.js';
import { XsMsgType as T } from '../src/xen/xenstore/wire/codec.js';
import { startOxenstored, waitForSocket } from '../test/helpers/oxenstored.js';

const CASE_MS = Number(process.env['XS_BENCH_MS'] ?? 1000);
const MANY = Number(process.env['XS_BENCH_CONNS'] ?? 16);
const WATCH_WRITES = Number(process.env['XS_BENCH_WATCH_WRITES'] ?? 3000);
const TEST_XENSTORE = '/usr/lib/xen-4.17/bin/test-xenstore';

/** vifd's wire client, plus what the bench counts: watch events. */
class Client {
  events = 0;
  private onEvent: (() => void) | null = null;

  private constructor(private readonly xs: XsClient) {
    xs.on('watch', () => {
      this.events++;
      this.onEvent?.();
    });
  }

  static async connectOnce(path: string): Promise<Client> {
    return new Client(await XsClient.connect(path, { reconnect: false }));
  }

  /** oxenstored listens with a backlog of 1: a burst of connects meets EAGAIN, so retry. */
  static async open(path: string): Promise<Client> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await Client.connectOnce(path);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EAGAIN' || attempt > 100) throw err;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  request(type: number, payload: string): Promise<Buffer> {
    return this.xs.request(type, Buffer.from(payload, 'latin1'));
  }

  /** Resolves once `n` events have arrived in total. */
  eventsReach(n: number): Promise<void> {
    return new Promise((res) => {
      if (this.events >= n) return res();
      this.onEvent = () => {
        if (this.events >= n) {
          this.onEvent = null;
          res();
        }
      };
    });
  }

  close(): void {
    this.xs.close();
  }
}

async function loopFor(ms: number, op: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    await op();
    n++;
  }
  return n;
}

async function rate(clients: Client[], op: (c: Client, i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  const counts = await Promise.all(clients.map((c, i) => loopFor(CASE_MS, () => op(c, i))));
  const secs = (performance.now() - start) / 1000;
  return Math.round(counts.reduce((a, b) => a + b, 0) / secs);
}

/** Writes WATCH_WRITES times below a path `watchers` connections watch; events delivered per second. */
async function watchRate(path: string, watchers: number): Promise<number> {
  const writer = await Client.open(path);
  const ws: Client[] = [];
  for (let i = 0; i < watchers; i++) ws.push(await Client.open(path));
  for (const w of ws) {
    await w.request(T.WATCH, '/bench/w\0tok\0');
    await w.eventsReach(1);
  }
  const start = performance.now();
  const done = Promise.all(ws.map((w) => w.eventsReach(1 + WATCH_WRITES)));
  for (let i = 0; i < WATCH_WRITES; i++) await writer.request(T.WRITE, `/bench/w/k\0${i}`);
  await done;
  const secs = (performance.now() - start) / 1000;
  for (const c of [writer, ...ws]) c.close();
  return Math.round((watchers * WATCH_WRITES) / secs);
}

async function socketSuite(path: string): Promise<Record<string, number>> {
  const one = [await Client.open(path)];
  const many: Client[] = [];
  for (let i = 0; i < MANY; i++) many.push(await Client.open(path));
  await one[0]!.request(T.WRITE, '/bench/r\0value');
  // Warm up both ends (JIT, first allocations) before anything is timed.
  let flip = 0;
  await loopFor(Math.max(1500, CASE_MS), () => one[0]!.request((flip ^= 1) ? T.READ : T.WRITE, flip ? '/bench/r\0' : '/bench/r\0value'));
  for (let i = 0; i < MANY; i++) await one[0]!.request(T.WRITE, `/bench/c${i}\0x`);
  const out = {
    read_ops_s_1conn: await rate(one, (c) => c.request(T.READ, '/bench/r\0')),
    write_ops_s_1conn: await rate(one, (c) => c.request(T.WRITE, '/bench/r\0value')),
    [`read_ops_s_${MANY}conn`]: await rate(many, (c) => c.request(T.READ, '/bench/r\0')),
    [`write_ops_s_${MANY}conn`]: await rate(many, (c, i) => c.request(T.WRITE, `/bench/c${i}\0value`)),
    watch_fires_s_1watcher: await watchRate(path, 1),
    [`watch_fires_s_${MANY}watchers`]: await watchRate(path, MANY),
  };
  for (const c of [...one, ...many]) c.close();
  return out;
}

async function inProcessSuite(): Promise<Record<string, number>> {
  const store = new XenStore();
  const conn = store.connect(0);
  conn.write('/bench/r', 'value');
  const time = (fn: () => void): number => {
    const end = performance.now() + CASE_MS;
    const start = performance.now();
    let n = 0;
    while (performance.now() < end) {
      for (let i = 0; i < 1000; i++) fn();
      n += 1000;
    }
    return Math.round(n / ((performance.now() - start) / 1000));
  };
  const read = time(() => conn.read('/bench/r'));
  const write = time(() => conn.write('/bench/r', 'value'));
  const watcher = store.connect(0);
  let events = 0;
  watcher.onWatchEvent = () => { events++; };
  watcher.watch('/bench/w', 'tok');
  await store.whenIdle();
  const writes = WATCH_WRITES * 20;
  const start = performance.now();
  for (let i = 0; i < writes; i++) conn.write('/bench/w/k', String(i));
  await store.whenIdle();
  const fires = Math.round((events - 1) / ((performance.now() - start) / 1000));
  return { read_ops_s: read, write_ops_s: write, watch_fires_s: fires };
}

/** test-xenstore's own per-test averages (ns), a C client's view of each server. */
function testXenstore(path: string): Record<string, number> | string {
  if (!existsSync(TEST_XENSTORE)) return `${TEST_XENSTORE} not installed`;
  const out = execFileSync(TEST_XENSTORE, ['-i', '200'], { env: { ...process.env, XENSTORED_PATH: path }, encoding: 'utf8' });
  const result: Record<string, number> = {};
  for (const m of out.matchAll(/^(.+?)\s*: avg: (\d+) ns/gm)) result[m[1]!.trim()] = Number(m[2]);
  return result;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vifd-xsbench-'));
  const xsPath = join(dir, 'xenstored.sock');
  const vifd = spawn(process.execPath, [resolve('bin/vifd.js'), '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
    '-xenstore', `socket=${xsPath}`], { env: { ...process.env, VIFD_LOG: 'error' }, stdio: 'ignore' });
  const result: Record<string, unknown> = {
    bench: 'xenstore', case_ms: CASE_MS, connections: MANY, watch_writes: WATCH_WRITES,
  };
  try {
    await waitForSocket(xsPath, vifd, 'vifd');
    result['vifd_socket'] = await socketSuite(xsPath);
    result['vifd_in_process'] = await inProcessSuite();
    result['vifd_test_xenstore_avg_ns'] = testXenstore(xsPath);
  } finally {
    vifd.kill('SIGTERM');
  }
  const refDir = join(dir, 'ox');
  mkdirSync(refDir);
  let ox: { path: string; stop: () => Promise<void> } | null = null;
  try {
    ox = await startOxenstored(refDir);
    result['reference'] = 'oxenstored 4.17 (Debian), --no-domain-init, LD_PRELOAD shim for hypervisor handles';
    result['reference_socket'] = await socketSuite(ox.path);
    result['reference_test_xenstore_avg_ns'] = testXenstore(ox.path);
  } catch (err) {
    result['reference'] = `unavailable: ${(err as Error).message}`;
  } finally {
    await ox?.stop();
  }
  result['c_xenstored'] = 'not runnable without a hypervisor (exits without /dev/xen; SIGSEGV on the first request with -D)';
  const v = result['vifd_socket'] as Record<string, number> | undefined;
  const r = result['reference_socket'] as Record<string, number> | undefined;
  if (v && r) {
    result['vifd_vs_reference'] = Object.fromEntries(Object.keys(v).map((k) => [k, Number((v[k]! / r[k]!).toFixed(2))]));
  }
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(() => process.exit(0), (err: Error) => {
  process.stderr.write(`bench:xenstore failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
