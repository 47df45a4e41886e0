// Datapath benchmark. The last line printed is one JSON object with
//   ring_pps_64, ring_pps_1500  guest → backend through the tx ring, frames discarded
//   c_ring_pps_64, c_ring_pps_1500
//                                the same work in C (bench/c/ring-loop.c)
//   ring_ratio_64, ring_ratio_1500
//                                vifd / C
//   tap_pps_64, tap_pps_1514     guest → backend → tap
//   c_tap_pps_64, c_tap_pps_1514 a C write() loop putting the same frames into a tap opened as
//                                vifd opens its taps (IFF_VNET_HDR, a zero header per frame)
//   c_plain_tap_pps_*            the same loop on a tap without IFF_VNET_HDR, for reference
//   tap_ratio_64, tap_ratio_1514 vifd / C
//                                (each C figure the mean of a run just before and one just after
//                                vifd's; every ring and tap figure the median of ROUNDS rounds)
//   rss_per_vif_mb               resident memory per connected vif
//   tcp_gbps                     the namespace's kernel TCP (socat) → the guest's TCP endpoint, no GSO
//   tcp_gbps_from_guest          the guest's TCP endpoint → socat, no GSO
//   tcp_gbps_gso                 socat → the guest with GSO (the kernel's TSO frames as multi-slot rx)
//   tcp_gbps_gso_from_guest      the guest → socat with GSO (64 KiB segments the tap's kernel cuts)
//   tcp_gbps_4flows              four socat flows at once → the guest, one queue (the baseline for _mq)
//   tcp_gbps_mq                  the same four flows with the guest connected on two queues
//   tcp_gbps_mq_from_guest       four flows the guest sends, two queues
//   tcp_gbps_veth                the kernel alone: the same socat over a veth pair to another
//                                namespace (same run), and the _gso figures as ratios to it
//   *_thread                     the same figures with -datapath thread=on: the vif's rings and
//                                tap I/O on the datapath thread, the guest on the main thread
// Only the _gso figures have the guest's netfront offer GSO; the others stay comparable without.
// It needs root: it re-runs itself inside a network namespace it creates.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VifdApp } from '../src/cli/app.js';
import { parseCommandLine } from '../src/cli/options.js';
import type { XenNetDevice } from '../src/backend/netback/xen-net-device.js';
import { XenbusState } from '../src/protocol/xenbus.js';

/** Each ring and tap figure is measured this long, in each of ROUNDS rounds. */
const SECONDS = Number(process.env['DATAPATH_SECONDS'] ?? 1);
/**
 * Rounds of (C reference, vifd, C reference) per ring and tap figure; the figures are the
 * medians. The host behind this kind of machine slows vifd and C alike for seconds at a time.
 */
const ROUNDS = Number(process.env['DATAPATH_ROUNDS'] ?? 3);
/**
 * The files socat sends live in memory: on a disk the writeback of half a gigabyte ran beside
 * the next figures (and the next run's first ones), taking a good part of a core.
 */
const SCRATCH = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const RSS_VIFS = 20;

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function frameOf(bytes: number): Uint8Array {
  const f = new Uint8Array(bytes);
  f.fill(0xff, 0, 6);
  f.set([0x00, 0x16, 0x3e, 0x00, 0x00, 0x99], 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  return f;
}

/** Apps in turn, so a tap name is free again: stop() resolves once the last one is gone. */
let previousExit: Promise<void> = Promise.resolve();

async function startApp(dir: string, taps: boolean, queues = 1, gso = false, thread = false): Promise<VifdApp> {
  // A teardown only holds unref'd timers; this keeps the process up until it is done.
  const keepAlive = setInterval(() => undefined, 1000);
  await previousExit;
  clearInterval(keepAlive);
  let exited: () => void = () => {};
  previousExit = new Promise((r) => { exited = r; });
  const guest = queues > 1 ? ['-guest', `domid=1,queues=${queues}`] : [];
  const app = new VifdApp(parseCommandLine(['-qmp', `unix:${join(dir, `qmp-${taps}-${queues}-${gso}-${thread}.sock`)},server=on,wait=off`, ...guest]),
    { ...(taps ? {} : { createTap: () => null }), datapathThread: thread, maxQueues: Math.max(queues, 1), onExit: () => exited(),
      ...(gso ? {} : { netfront: { gso: false } }) });
  await app.start();
  return app;
}

async function plug(app: VifdApp, id: string): Promise<{ backend: XenNetDevice; send: (f: Uint8Array) => boolean }> {
  app.devices.add({ driver: 'xen-net-device', id });
  const backend = app.bus.list().find((d) => !d.destroyed && d.backendState !== XenbusState.Closed &&
    (app.devices.find(id) as unknown as { backend: XenNetDevice }).backend === d) as XenNetDevice;
  const guest = app.guests.get(1)!;
  await waitFor(() => backend.backendState === XenbusState.Connected &&
    guest.vifs.get(backend.address.devid)?.netfront.state === XenbusState.Connected, `${id} connected`);
  const nf = guest.vifs.get(backend.address.devid)!.netfront;
  return { backend, send: (f) => nf.send(f) };
}

/** Sends as fast as the ring takes frames for SECONDS; counts what the backend forwarded. */
async function blast(vif: { backend: XenNetDevice; send: (f: Uint8Array) => boolean }, bytes: number): Promise<number> {
  const frame = frameOf(bytes);
  const before = vif.backend.stats.txPackets;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    for (let i = 0; i < 256 && vif.send(frame); i++) { /* fill the ring */ }
    await new Promise((r) => setImmediate(r));
  }
  return Math.round((vif.backend.stats.txPackets - before) / ((performance.now() - t0) / 1000));
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Plugs vif `id` and blasts it with frames of each size in turn, ROUNDS times. Each round runs
 * the C reference for the size just before and just after vifd (`reference`), as this kind of
 * machine drifts by a third within the hour, and gives vifd's rate over their mean. Per size:
 * the median rate, the median reference and the median of the rounds' ratios; and the devid.
 */
async function blastSizes(app: VifdApp, id: string, sizes: number[], reference: (bytes: number) => number):
  Promise<{ rates: number[]; refs: number[]; ratios: number[]; devid: number }> {
  const vif = await plug(app, id);
  const rates: number[] = [];
  const refs: number[] = [];
  const ratios: number[] = [];
  for (const bytes of sizes) {
    const round = { rates: [] as number[], refs: [] as number[], ratios: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const before = reference(bytes);
      const rate = await blast(vif, bytes);
      const ref = (before + reference(bytes)) / 2;
      round.rates.push(rate);
      round.refs.push(ref);
      round.ratios.push(rate / ref);
    }
    rates.push(Math.round(median(round.rates)));
    refs.push(Math.round(median(round.refs)));
    ratios.push(+median(round.ratios).toFixed(3));
  }
  return { rates, refs, ratios, devid: vif.backend.address.devid };
}

/**
 * Each flow's bytes. A transfer of 64 MiB took 100 ms or less with GSO, mostly slow start:
 * at 512 MiB the figure is the rate the path holds, for vifd and for the veth reference alike.
 */
const TCP_BYTES = Number(process.env['DATAPATH_TCP_BYTES'] ?? 512 * 1024 * 1024);
/**
 * socat moves 8 KiB per read and write by default: on this kind of machine the namespace's end
 * then takes a good part of the other core, and TCP into the guest measured about a sixth slower
 * (2.0 against 2.3 Gbit/s in alternating runs).
 */
const SOCAT_BLOCK = ['-b', String(256 * 1024)];

let socatPath: string | null = null;

/** The file every TCP figure's socat sends, TCP_BYTES of 'a': written once per run. */
function socatFile(dir: string): string {
  if (socatPath === null) {
    socatPath = join(dir, 'tcp.bin');
    writeFileSync(socatPath, new Uint8Array(TCP_BYTES).fill(0x61));
  }
  return socatPath;
}

/**
 * TCP through the tap both ways between socat in the namespace and the guest's endpoint:
 * `flows` connections at once each way, TCP_BYTES each, the rate being all their bytes over
 * the time the last one took.
 */
async function tcp(app: VifdApp, dir: string, devid: number, flows = 1, gso = false): Promise<{ toGuest: number; fromGuest: number }> {
  const ifname = `vif1.${devid}`;
  execFileSync('ip', ['addr', 'add', `10.1.${devid}.1/24`, 'dev', ifname]);
  execFileSync('ip', ['link', 'set', ifname, 'up']);
  const vif = app.guests.get(1)!.vifs.get(devid)!;
  if (vif.netfront.gsoAvailable() !== gso) throw new Error(`tcp: GSO is ${gso ? 'not ' : ''}negotiated on ${ifname}`);
  const transport = vif.transport!;
  transport.tcp.gso = gso;
  let received = 0;
  let sinksClosed = 0;
  transport.tcp.listen(5001, (c) => {
    c.onData = (d) => { received += d.length; };
    c.onEnd = () => c.end();
    c.onClose = () => { sinksClosed++; };
  });
  const payload = new Uint8Array(TCP_BYTES).fill(0x61);
  transport.tcp.listen(5002, (c) => { c.write(payload); c.end(); });
  const file = socatFile(dir);
  const run = promisify(execFile);
  const each = <T>(fn: () => Promise<T>): Promise<T[]> => Promise.all(Array.from({ length: flows }, fn));
  let t0 = performance.now();
  await each(() => run('socat', [...SOCAT_BLOCK, '-u', `FILE:${file}`, `TCP:10.1.${devid}.2:5001`]));
  await waitFor(() => sinksClosed === flows, 'the guest to receive everything');
  const toGuest = (received * 8) / ((performance.now() - t0) / 1000) / 1e9;
  t0 = performance.now();
  await each(() => run('socat', [...SOCAT_BLOCK, '-u', `TCP:10.1.${devid}.2:5002`, 'OPEN:/dev/null']));
  const fromGuest = (flows * TCP_BYTES * 8) / ((performance.now() - t0) / 1000) / 1e9;
  transport.close();
  if (received !== flows * TCP_BYTES) throw new Error(`tcp: the guest received ${received} of ${flows * TCP_BYTES} bytes`);
  return { toGuest: +toGuest.toFixed(3), fromGuest: +fromGuest.toFixed(3) };
}

/** A fresh app whose guest asks for `queues` queues (and gets them), `flows` TCP flows each way. */
async function tcpOnFreshApp(dir: string, queues: number, flows: number, gso = false, thread = false):
  Promise<{ toGuest: number; fromGuest: number }> {
  const app = await startApp(dir, true, queues, gso, thread);
  try {
    const vif = await plug(app, `tcp${queues}q`);
    const connected = vif.backend.ringInfo()?.length ?? 0;
    if (connected !== queues) throw new Error(`the vif connected ${connected} queues, not ${queues}`);
    return await tcp(app, dir, vif.backend.address.devid, flows, gso);
  } finally {
    app.shutdown('host-signal');
  }
}

/**
 * The kernel alone, for reference: the same socat, the same bytes, between this namespace and
 * another over a veth pair (both ends the kernel's TCP with its offloads, no datapath between).
 */
async function tcpVethBaseline(dir: string): Promise<number> {
  const ns = `vifdv-${process.pid}`;
  const file = socatFile(dir);
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['link', 'add', 'vbench0', 'type', 'veth', 'peer', 'name', 'vbench1', 'netns', ns]);
    execFileSync('ip', ['addr', 'add', '10.250.0.1/24', 'dev', 'vbench0']);
    execFileSync('ip', ['link', 'set', 'vbench0', 'up']);
    for (const args of [['addr', 'add', '10.250.0.2/24', 'dev', 'vbench1'], ['link', 'set', 'vbench1', 'up'], ['link', 'set', 'lo', 'up']]) {
      execFileSync('ip', ['-n', ns, ...args]);
    }
    const sink = execFile('ip', ['netns', 'exec', ns, 'socat', ...SOCAT_BLOCK, '-u', 'TCP-LISTEN:5009,reuseaddr', 'OPEN:/dev/null']);
    const done = new Promise((r) => sink.once('exit', r));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await promisify(execFile)('socat', [...SOCAT_BLOCK, '-u', `FILE:${file}`, 'TCP:10.250.0.2:5009']);
    await done;
    return +((TCP_BYTES * 8) / ((performance.now() - t0) / 1000) / 1e9).toFixed(3);
  } finally {
    // Deleting the namespace deletes the pair with it.
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

/** The C references built so far: each is compiled once, for the run's many rounds. */
const builtC = new Map<string, string>();

/** What a C reference in bench/c prints (one number), run with `args`. */
function runC(name: string, args: string[]): number {
  let bin = builtC.get(name);
  if (bin === undefined) {
    const path = join(tmpdir(), `vifd-${name}-${process.pid}`);
    execFileSync('gcc', ['-O2', '-o', path, resolve(`bench/c/${name}.c`)]);
    process.on('exit', () => rmSync(path, { force: true }));
    builtC.set(name, path);
    bin = path;
  }
  return Number(execFileSync(bin, args, { encoding: 'utf8' }).trim());
}

/** Frames/s of the C write() loop; `vnet`: its tap opened as vifd's are, a zero virtio_net_hdr per frame. */
function cBaseline(bytes: number, vnet: boolean): number {
  return runC('tap-writer', [`cbase${bytes}`, String(bytes), String(SECONDS), ...(vnet ? ['vnet'] : [])]);
}

/** Frames/s of the C ring loop: a netfront and a netback tx path on one thread. */
function cRing(bytes: number): number {
  return runC('ring-loop', [String(bytes), String(SECONDS)]);
}

async function inner(): Promise<void> {
  const dir = mkdtempSync(join(SCRATCH, 'vifd-datapath-'));
  // Its TCP files are hundreds of MiB, in memory when SCRATCH is /dev/shm: gone however the run ends.
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const ring = await startApp(dir, false);
  const rung = await blastSizes(ring, 'ring0', [64, 1500], cRing);
  const [ring64, ring1500] = rung.rates;
  const [cRing64, cRing1500] = rung.refs;

  const rssBefore = process.memoryUsage().rss;
  for (let i = 1; i <= RSS_VIFS; i++) await plug(ring, `rss${i}`);
  const rssPerVif = (process.memoryUsage().rss - rssBefore) / RSS_VIFS / (1024 * 1024);
  ring.shutdown('host-signal');

  const tapApp = await startApp(dir, true);
  const tapped = await blastSizes(tapApp, 'tap0', [64, 1514], (bytes) => cBaseline(bytes, true));
  const [c64, c1514] = tapped.refs;
  const [tap64, tap1514] = tapped.rates;
  const tcpGbps = await tcp(tapApp, dir, tapped.devid);
  tapApp.shutdown('host-signal');

  const tcp4 = await tcpOnFreshApp(dir, 1, 4);
  const tcpMq = await tcpOnFreshApp(dir, 2, 4);
  const tcpGso = await tcpOnFreshApp(dir, 1, 1, true);

  const ringT = await startApp(dir, false, 1, false, true);
  const rungT = await blastSizes(ringT, 'ringT', [64, 1500], cRing);
  const [ring64T, ring1500T] = rungT.rates;
  ringT.shutdown('host-signal');
  const tapT = await startApp(dir, true, 1, false, true);
  const tappedT = await blastSizes(tapT, 'tapT', [64, 1514], (bytes) => cBaseline(bytes, true));
  const [tap64T, tap1514T] = tappedT.rates;
  tapT.shutdown('host-signal');
  const tcpGsoT = await tcpOnFreshApp(dir, 1, 1, true, true);

  // vifd's taps carry a virtio_net_hdr (IFF_VNET_HDR): the ratios compare with a C loop writing
  // to a tap opened the same way; the plain tap's figures are printed beside them.
  const veth = await tcpVethBaseline(dir);
  const c64Plain = cBaseline(64, false);
  const c1514Plain = cBaseline(1514, false);
  process.stdout.write(JSON.stringify({
    bench: 'datapath',
    seconds: SECONDS,
    rounds: ROUNDS,
    ring_pps_64: ring64,
    ring_pps_1500: ring1500,
    c_ring_pps_64: cRing64,
    c_ring_pps_1500: cRing1500,
    ring_ratio_64: rung.ratios[0],
    ring_ratio_1500: rung.ratios[1],
    tap_pps_64: tap64,
    tap_pps_1514: tap1514,
    c_tap_pps_64: c64,
    c_tap_pps_1514: c1514,
    c_plain_tap_pps_64: c64Plain,
    c_plain_tap_pps_1514: c1514Plain,
    tap_ratio_64: tapped.ratios[0],
    tap_ratio_1514: tapped.ratios[1],
    rss_per_vif_mb: +rssPerVif.toFixed(2),
    tcp_gbps: tcpGbps.toGuest,
    tcp_gbps_from_guest: tcpGbps.fromGuest,
    tcp_gbps_gso: tcpGso.toGuest,
    tcp_gbps_gso_from_guest: tcpGso.fromGuest,
    tcp_gbps_4flows: tcp4.toGuest,
    tcp_gbps_mq: tcpMq.toGuest,
    tcp_gbps_mq_from_guest: tcpMq.fromGuest,
    tcp_gbps_veth: veth,
    tcp_gso_ratio_vs_veth: +(tcpGso.toGuest / veth).toFixed(3),
    tcp_gso_from_guest_ratio_vs_veth: +(tcpGso.fromGuest / veth).toFixed(3),
    ring_pps_64_thread: ring64T,
    ring_pps_1500_thread: ring1500T,
    ring_ratio_64_thread: rungT.ratios[0],
    ring_ratio_1500_thread: rungT.ratios[1],
    tap_pps_64_thread: tap64T,
    tap_pps_1514_thread: tap1514T,
    tap_ratio_64_thread: tappedT.ratios[0],
    tap_ratio_1514_thread: tappedT.ratios[1],
    tcp_gbps_gso_thread: tcpGsoT.toGuest,
    tcp_gbps_gso_from_guest_thread: tcpGsoT.fromGuest,
  }) + '\n');
  process.exit(0);
}

function outer(): void {
  const ns = `vifdd-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), '--inner'], { stdio: 'inherit' });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

if (process.argv.includes('--inner')) {
  inner().catch((err) => {
    process.stderr.write(`bench/datapath: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else {
  outer();
}
