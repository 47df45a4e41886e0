// QMP request rate and latency: `query-version` over a unix socket, one request in flight and
// pipelined (a window of 1,000 in flight), against vifd and — in the same run, with the same
// client — against QEMU (`qemu-system-x86_64 -M none`, when installed). Then vifd's latency
// while its datapath is busy: a guest's vif flooded by `ping -f` through its tap (needs root and
// `ip netns`; reported as null otherwise). The last line printed is one JSON object.
//
// Rounds alternate between the servers and each metric reports the median round, because the
// machine's other load moves single rounds a lot.
//
//   npm run bench:qmp    QMP_ROUNDS, QMP_ONE, QMP_PIPELINED, QMP_WINDOW change the counts

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROUNDS = Number(process.env['QMP_ROUNDS'] ?? 3);
const ONE = Number(process.env['QMP_ONE'] ?? 10000);
const PIPELINED = Number(process.env['QMP_PIPELINED'] ?? 200000);
const WINDOW = Number(process.env['QMP_WINDOW'] ?? 1000);
/** QEMU answers a few thousand a second: fewer requests keep its run to seconds. */
const QEMU_ONE = Number(process.env['QMP_QEMU_ONE'] ?? 3000);
const QEMU_PIPELINED = Number(process.env['QMP_QEMU_PIPELINED'] ?? 6000);

const REQUEST = Buffer.from('{"execute":"query-version"}');

/** A bare QMP client: counts reply lines, keeps send times in a FIFO; the same for both servers. */
class BenchClient {
  private onLine: (() => void) | null = null;
  private lines = 0;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      let n = 0;
      for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) n++;
      for (; n > 0; n--) {
        this.lines++;
        this.onLine?.();
      }
    });
  }

  static async open(path: string): Promise<BenchClient> {
    const socket = await new Promise<Socket>((res, rej) => {
      const s = connect(path, () => res(s));
      s.once('error', rej);
    });
    const c = new BenchClient(socket);
    await c.lineCount(1); // greeting
    socket.write('{"execute":"qmp_capabilities"}');
    await c.lineCount(2);
    return c;
  }

  private lineCount(n: number): Promise<void> {
    return new Promise((res) => {
      const check = (): void => {
        if (this.lines >= n) {
          this.onLine = null;
          res();
        }
      };
      this.onLine = check;
      check();
    });
  }

  /** n requests, each sent as soon as the previous reply has arrived; latencies in µs. */
  oneInFlight(n: number): Promise<Float64Array> {
    const lat = new Float64Array(n);
    let i = 0;
    let t0 = 0n;
    return new Promise((res) => {
      // Driven from the reply callback itself, without a promise per request: the client's own
      // cost is then as small as it can be, for both servers alike.
      this.onLine = () => {
        lat[i++] = Number(process.hrtime.bigint() - t0) / 1000;
        if (i === n) {
          this.onLine = null;
          res(lat);
          return;
        }
        t0 = process.hrtime.bigint();
        this.socket.write(REQUEST);
      };
      t0 = process.hrtime.bigint();
      this.socket.write(REQUEST);
    });
  }

  /** n requests with `window` in flight: each reply lets one more go; latencies in µs. */
  pipelined(n: number, window: number): Promise<Float64Array> {
    const lat = new Float64Array(n);
    const sentAt = new Float64Array(n);
    let sent = 0;
    let got = 0;
    const send = (k: number): void => {
      const now = Number(process.hrtime.bigint()) / 1000;
      for (let j = 0; j < k; j++) sentAt[sent + j] = now;
      sent += k;
      this.socket.write(k === 1 ? REQUEST : Buffer.concat(Array(k).fill(REQUEST)));
    };
    return new Promise((res) => {
      let due = 0;
      this.onLine = () => {
        lat[got] = Number(process.hrtime.bigint()) / 1000 - sentAt[got]!;
        got++;
        if (sent < n) due++;
        if (got === n) {
          this.onLine = null;
          res(lat);
        }
      };
      // Refill once per chunk of replies, in one write, as a real pipelining client would.
      this.socket.on('data', () => {
        if (due > 0) {
          const k = Math.min(due, n - sent);
          due = 0;
          if (k > 0) send(k);
        }
      });
      send(Math.min(window, n));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Stats { requests: number; rps: number; p50_us: number; p99_us: number }

function stats(lat: Float64Array, seconds: number): Stats {
  const sorted = Float64Array.from(lat).sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  return { requests: lat.length, rps: Math.round(lat.length / seconds), p50_us: Math.round(at(0.5)), p99_us: Math.round(at(0.99)) };
}

async function measure(path: string, one: number, piped: number): Promise<{ one_in_flight: Stats; pipelined: Stats }> {
  const c = await BenchClient.open(path);
  await c.oneInFlight(Math.min(1000, one)); // warm-up (JIT, caches)
  let t0 = performance.now();
  const a = await c.oneInFlight(one);
  const oneStats = stats(a, (performance.now() - t0) / 1000);
  c.close();
  const p = await BenchClient.open(path);
  await p.pipelined(Math.min(WINDOW * 2, piped), WINDOW);
  t0 = performance.now();
  const b = await p.pipelined(piped, WINDOW);
  const pipedStats = stats(b, (performance.now() - t0) / 1000);
  p.close();
  return { one_in_flight: oneStats, pipelined: pipedStats };
}

async function waitForSocket(path: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 500 && !existsSync(path); i++) {
    if (proc.exitCode !== null) throw new Error(`${String(proc.spawnfile)} exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!existsSync(path)) throw new Error(`${path} did not appear`);
}

function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return Promise.resolve();
  return new Promise((res) => {
    proc.once('exit', () => res());
    proc.kill('SIGTERM');
  });
}

function haveCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** QMP latency while `ping -f` floods a guest's vif through its tap (root and ip netns only). */
async function busyDatapath(dir: string): Promise<Record<string, unknown> | null> {
  if (process.getuid?.() !== 0 || !haveCommand('ip') || !haveCommand('ping')) return null;
  const ns = `vifdq-${process.pid}`;
  const sock = join(dir, 'busy.sock');
  execFileSync('ip', ['netns', 'add', ns]);
  const vifd = spawn('ip', ['netns', 'exec', ns, process.execPath, resolve('bin/vifd.js'), '-qmp', `unix:${sock},server=on,wait=off`],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, VIFD_LOG: 'warn' } });
  let flood: ChildProcess | null = null;
  try {
    await waitForSocket(sock, vifd);
    const c = await BenchClient.open(sock);
    await new Promise((r) => setTimeout(r, 500)); // let the guest finish booting
    await c.oneInFlight(2000); // warm-up
    let t0 = performance.now();
    const quiet = await c.oneInFlight(5000);
    const quietStats = stats(quiet, (performance.now() - t0) / 1000);
    // Hotplug a vif on another connection and give the guest's frontend time to connect.
    await new Promise<void>((res) => {
      const s = connect(sock, () => {
        s.write('{"execute":"qmp_capabilities"}{"execute":"device_add","arguments":{"driver":"xen-net-device","id":"flood0"}}');
        setTimeout(() => {
          s.destroy();
          res();
        }, 1500);
      });
    });
    const inNs = (...a: string[]): string => execFileSync('ip', ['netns', 'exec', ns, ...a], { encoding: 'utf8' });
    inNs('ip', 'addr', 'add', '10.1.0.1/24', 'dev', 'vif1.0');
    inNs('ip', 'link', 'set', 'vif1.0', 'up');
    inNs('ping', '-c', '3', '-i', '0.2', '-W', '1', '10.1.0.2');
    flood = spawn('ip', ['netns', 'exec', ns, 'ping', '-f', '-q', '-s', '1400', '10.1.0.2'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let floodOut = '';
    flood.stdout!.setEncoding('utf8').on('data', (d: string) => { floodOut += d; });
    await new Promise((r) => setTimeout(r, 500));
    t0 = performance.now();
    const busy = await c.oneInFlight(5000);
    const busyStats = stats(busy, (performance.now() - t0) / 1000);
    flood.kill('SIGINT');
    await new Promise((r) => flood!.once('exit', r));
    const m = /(\d+) packets transmitted, (\d+) received/.exec(floodOut);
    c.close();
    return {
      quiet_one_in_flight: quietStats,
      busy_one_in_flight: busyStats,
      flood: m ? { ping_f_transmitted: Number(m[1]), received: Number(m[2]), payload_bytes: 1400 } : null,
    };
  } finally {
    if (flood && flood.exitCode === null) flood.kill('SIGKILL');
    await stop(vifd);
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

type Result = { one_in_flight: Stats; pipelined: Stats };

/** Per metric, the round with the median rate: the machine's other load moves single rounds. */
function median(rounds: Result[]): Result {
  const mid = <K extends keyof Result>(k: K): Stats =>
    [...rounds].sort((a, b) => a[k].rps - b[k].rps)[Math.floor(rounds.length / 2)]![k];
  return { one_in_flight: mid('one_in_flight'), pipelined: mid('pipelined') };
}

interface PingPong { rps: number; p50_us: number; p99_us: number }

/**
 * One in flight again, with a C client so the client's own event loop is not in the latency,
 * once with the scheduler free and once with server and client pinned to one CPU, which keeps
 * idle-state exits and cross-CPU wake-ups (large on a small VM) out of both servers' numbers.
 */
async function cClientRuns(dir: string): Promise<Record<string, unknown>> {
  const bin = join(dir, 'qmp-pingpong');
  execFileSync('gcc', ['-O2', '-o', bin, resolve('bench/c/qmp-pingpong.c')]);
  const servers: Array<[string, string[]]> = [['vifd', [process.execPath, resolve('bin/vifd.js'), '-qmp']]];
  if (haveCommand('qemu-system-x86_64')) {
    servers.push(['qemu', ['qemu-system-x86_64', '-M', 'none', '-display', 'none', '-nodefaults', '-qmp']]);
  }
  const out: Record<string, Record<string, PingPong>> = {};
  for (const pinned of [false, true]) {
    const mode = pinned ? 'pinned_one_cpu' : 'unpinned';
    out[mode] = {};
    for (const [name, argv] of servers) {
      const sock = join(dir, `${name}-c-${mode}.sock`);
      const cmd = [...(pinned ? ['taskset', '-c', '0'] : []), ...argv, `unix:${sock},server=on,wait=off`];
      const proc = spawn(cmd[0]!, cmd.slice(1), { stdio: 'ignore', env: { ...process.env, VIFD_LOG: 'warn' } });
      try {
        await waitForSocket(sock, proc);
        const n = name === 'vifd' ? ONE : QEMU_ONE;
        const client = [...(pinned ? ['taskset', '-c', '0'] : []), bin, sock, String(n)];
        // Two first runs warm the server up (vifd's JIT needs a few tens of thousands of requests;
        // QEMU's caches) and are not counted.
        for (let w = 0; w < 2; w++) execFileSync(client[0]!, client.slice(1), { encoding: 'utf8' });
        const [rps, p50, p99] = execFileSync(client[0]!, client.slice(1), { encoding: 'utf8' }).trim().split(' ').map(Number);
        out[mode]![name] = { rps: rps!, p50_us: p50!, p99_us: p99! };
      } finally {
        await stop(proc);
      }
    }
    const v = out[mode]!['vifd'];
    const q = out[mode]!['qemu'];
    if (v && q) {
      (out[mode] as Record<string, unknown>)['ratio_rps'] = Math.round((v.rps / q.rps) * 10) / 10;
      (out[mode] as Record<string, unknown>)['vifd_p99_below_qemu_p50'] = v.p99_us < q.p50_us;
    }
  }
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vifd-qmpbench-'));
  const load = loadavg()[0];
  const procs: ChildProcess[] = [];
  try {
    const vifdSock = join(dir, 'vifd.sock');
    const vifd = spawn(process.execPath, [resolve('bin/vifd.js'), '-qmp', `unix:${vifdSock},server=on,wait=off`],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, VIFD_LOG: 'warn' } });
    procs.push(vifd);
    await waitForSocket(vifdSock, vifd);
    let qemuSock: string | null = null;
    if (haveCommand('qemu-system-x86_64')) {
      qemuSock = join(dir, 'qemu.sock');
      const qemu = spawn('qemu-system-x86_64', ['-M', 'none', '-display', 'none', '-nodefaults', '-qmp',
        `unix:${qemuSock},server=on,wait=off`], { stdio: 'ignore' });
      procs.push(qemu);
      await waitForSocket(qemuSock, qemu);
    }
    // Rounds alternate between the two servers, so both see the same machine.
    const vifdRounds: Result[] = [];
    const qemuRounds: Result[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      vifdRounds.push(await measure(vifdSock, ONE, PIPELINED));
      console.log(`vifd round ${r}: ${JSON.stringify(vifdRounds[r])}`);
      if (qemuSock !== null) {
        qemuRounds.push(await measure(qemuSock, QEMU_ONE, QEMU_PIPELINED));
        console.log(`qemu round ${r}: ${JSON.stringify(qemuRounds[r])}`);
      }
    }
    await Promise.all(procs.map(stop));
    const vifdResult = median(vifdRounds);
    const qemuResult = qemuRounds.length > 0 ? median(qemuRounds) : null;

    const cClient = haveCommand('gcc') && haveCommand('taskset') ? await cClientRuns(dir) : null;
    if (cClient) console.log(`C client: ${JSON.stringify(cClient)}`);

    const busy = await busyDatapath(dir);
    if (busy) console.log(`busy datapath: ${JSON.stringify(busy)}`);

    const ratio = (a: number, b: number): number => Math.round((a / b) * 10) / 10;
    const result = {
      benchmark: 'qmp query-version over a unix socket',
      loadavg_1m_at_start: Math.round(load * 100) / 100,
      loadavg_1m_at_end: Math.round(loadavg()[0] * 100) / 100,
      cpus: cpus().length,
      window: WINDOW,
      rounds: ROUNDS,
      vifd: vifdResult,
      qemu: qemuResult,
      ratios: qemuResult ? {
        one_in_flight_rps: ratio(vifdResult.one_in_flight.rps, qemuResult.one_in_flight.rps),
        pipelined_rps: ratio(vifdResult.pipelined.rps, qemuResult.pipelined.rps),
        vifd_p99_below_qemu_p50: vifdResult.one_in_flight.p99_us < qemuResult.one_in_flight.p50_us,
      } : null,
      c_client_one_in_flight: cClient,
      busy_datapath: busy,
    };
    console.log(JSON.stringify(result));
  } finally {
    await Promise.all(procs.map(stop));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
