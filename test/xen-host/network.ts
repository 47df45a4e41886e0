// Traffic between dom0 and a domU over whatever vif a test plugged: ping, and TCP throughput
// with busybox nc at both ends (dom0 runs the domU's own busybox, so both sides use the same
// tools). Every figure is measured in the emulated machine, on its own clock.

import { sleep, type Dom0, type RunResult } from './dom0.js';
import type { DomU } from './domu.js';

/**
 * dom0 pings `ip` until a reply; the seconds that took, measured in dom0. Each try waits 0.2 s
 * (round trips here are ~10 ms): a longer wait would round every backend's figure up alike.
 */
export async function pingUntil(dom0: Dom0, ip: string, timeoutMs: number): Promise<number> {
  const secs = Math.ceil(timeoutMs / 1000);
  const r = await dom0.run(`t0=$(date +%s.%N); end=$(( $(date +%s) + ${secs} ))
    until ping -c 1 -W 0.2 ${ip} >/dev/null 2>&1; do [ $(date +%s) -lt $end ] || exit 1; sleep 0.05; done
    awk "BEGIN { print $(date +%s.%N) - $t0 }"`, { timeoutMs: timeoutMs + 5000 });
  if (r.rc !== 0) throw new Error(`no ping reply from ${ip} within ${secs} s`);
  return Number(r.stdout.trim());
}

/** dom0 pings `ip` `count` times (0.2 s apart); the average round trip in ms. Every reply must come. */
export async function pingAvg(dom0: Dom0, ip: string, count = 20): Promise<number> {
  const r = await dom0.run(['ping', '-q', '-c', String(count), '-i', '0.2', '-W', '2', ip], { timeoutMs: count * 2500 + 5000 });
  const loss = /(\d+)% packet loss/.exec(r.stdout);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  if (r.rc !== 0 || !loss || loss[1] !== '0' || !rtt) throw new Error(`ping ${ip} x${count}: ${r.stdout.trim() || r.stderr.trim()}`);
  return Number(rtt[1]);
}

export interface TcpResult {
  bytes: number;
  /** Receiver's time from the first byte to the end of the stream. */
  seconds: number;
  /** MiB per second on the receiver. */
  mibPerSecond: number;
}

export interface TcpOptions {
  /** Size of the transfer; measurements should use 16 MiB or more. Default 16. */
  mib?: number;
  port?: number;
  /** Time allowed per MiB (plus 30 s); default 4 s: the slowest peer moves ~0.3 MiB/s. */
  secondsPerMiB?: number;
}

// Receiver: counts the first byte apart to start the clock on it, then the rest to EOF. Its
// stdin is a fifo it holds open itself, so nc never sees EOF there and never quits early.
function receiver(nc: string, port: number): string {
  return `f=/tmp/vifd-nc.$$; rm -f $f; mkfifo $f
${nc} -l -p ${port} <> $f | { first=$(dd bs=1 count=1 2>/dev/null | wc -c); t0=$(cut -d' ' -f1 /proc/uptime)
  rest=$(wc -c); t1=$(cut -d' ' -f1 /proc/uptime); echo "RECV bytes=$((first + rest)) t0=$t0 t1=$t1"; }
rm -f $f`;
}

// Sender: retries only while the receiver is not listening yet (a refused connect sends nothing).
function sender(nc: string, ip: string, port: number, mib: number): string {
  return `end=$(( $(date +%s) + 15 ))
until dd if=/dev/zero bs=1048576 count=${mib} 2>/dev/null | ${nc} ${ip} ${port}; do
  [ $(date +%s) -lt $end ] || { echo "cannot reach ${ip}:${port}" >&2; exit 1; }; sleep 0.2
done`;
}

function result(r: RunResult, mib: number, what: string): TcpResult {
  const m = /RECV bytes=(\d+) t0=([\d.]+) t1=([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`${what}: no receiver report (rc ${r.rc}): ${(r.stdout + r.stderr).trim().slice(-400)}`);
  const bytes = Number(m[1]);
  if (bytes !== mib * 1048576) throw new Error(`${what}: ${bytes} of ${mib * 1048576} bytes arrived`);
  // /proc/uptime counts hundredths: never divide by zero.
  const seconds = Math.max(Number(m[3]) - Number(m[2]), 0.01);
  return { bytes, seconds, mibPerSecond: Math.round((bytes / 1048576 / seconds) * 100) / 100 };
}

/** TCP from dom0 to the domU at `domUIp`. */
export async function tcpToDomU(dom0: Dom0, busybox: string, domU: DomU, domUIp: string, opts: TcpOptions = {}): Promise<TcpResult> {
  const mib = opts.mib ?? 16;
  const port = opts.port ?? 5001;
  const limitMs = ((opts.secondsPerMiB ?? 4) * mib + 30) * 1000;
  const job = await domU.start(receiver('nc', port), { timeoutMs: limitMs + 10000 });
  const sent = await dom0.run(sender(`${busybox} nc`, domUIp, port, mib), { timeoutMs: limitMs });
  if (sent.rc !== 0) {
    // The receiver would wait for its own time limit: end it now (only our jobs run there).
    await domU.run('killall nc', { timeoutMs: 10000 }).catch(() => undefined);
  }
  const got = await job.wait();
  if (sent.rc !== 0) throw new Error(`dom0 -> ${domU.name}: sender failed (rc ${sent.rc}): ${sent.stderr.trim()}; receiver: ${got.stdout.trim()}`);
  return result(got, mib, `dom0 -> ${domU.name}`);
}

/** TCP from the domU to dom0 at `dom0Ip`. */
export async function tcpFromDomU(dom0: Dom0, busybox: string, domU: DomU, dom0Ip: string, opts: TcpOptions = {}): Promise<TcpResult> {
  const mib = opts.mib ?? 16;
  const port = opts.port ?? 5002;
  const limitMs = ((opts.secondsPerMiB ?? 4) * mib + 30) * 1000;
  const recv = await dom0.start(`nc-receiver-${port}`, receiver(`${busybox} nc`, port));
  try {
    await sleep(300); // the domU's sender retries anyway; this spares it most of them
    const sent = await domU.run(sender('nc', dom0Ip, port, mib), { timeoutMs: limitMs });
    if (sent.rc !== 0) throw new Error(`${domU.name} -> dom0: sender failed (rc ${sent.rc}): ${sent.stdout.trim()}; receiver: ${recv.stdout.trim()}`);
    const rc = await recv.exited(10000);
    return result({ rc: rc ?? -1, stdout: recv.stdout, stderr: recv.stderr, ms: 0, timedOut: false }, mib, `${domU.name} -> dom0`);
  } finally {
    if (recv.exitCode === undefined) await recv.stop({ signal: 'KILL' });
  }
}
