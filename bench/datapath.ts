// Datapath benchmark. The last line printed is one JSON object with
//   ring_pps_64, ring_pps_1500  guest → backend through the tx ring, frames discarded
//   tap_pps_64, tap_pps_1514     guest → backend → tap
//   c_tap_pps_64, c_tap_pps_1514 a C write() loop putting the same frames into a tap (same run)
//   tap_ratio_64, tap_ratio_1514 vifd / C
//   rss_per_vif_mb               resident memory per connected vif
//   tcp_gbps                     the namespace's kernel TCP (socat) → the guest's TCP endpoint, no GSO
//   tcp_gbps_from_guest          the guest's TCP endpoint → socat, no GSO
//   tcp_gbps_gso                 socat → the guest with GSO (the kernel's TSO frames as multi-slot rx)
//   tcp_gbps_gso_from_guest      the guest → socat with GSO (64 KiB segments the tap's kernel cuts)
// It needs root: it re-runs itself inside a network namespace it creates.

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VifdApp } from '../src/cli/app.js';
import { parseCommandLine } from '../src/cli/options.js';
import type { XenNetDevice } from '../src/backend/netback/xen-net-device.js';
import { XenbusState } from '../src/protocol/xenbus.js';

const SECONDS = Number(process.env['DATAPATH_SECONDS'] ?? 2);
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

async function startApp(dir: string, taps: boolean, gso = true): Promise<VifdApp> {
  const app = new VifdApp(parseCommandLine(['-qmp', `unix:${join(dir, `qmp-${taps}-${gso}.sock`)},server=on,wait=off`]),
    { ...(taps ? {} : { createTap: () => null }), ...(gso ? {} : { netfront: { gso: false } }) });
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

const TCP_BYTES = Number(process.env['DATAPATH_TCP_BYTES'] ?? 64 * 1024 * 1024);

/** TCP through the tap both ways between socat in the namespace and the guest's endpoint. */
async function tcp(app: VifdApp, dir: string, devid: number, gso: boolean): Promise<{ toGuest: number; fromGuest: number }> {
  const ifname = `vif1.${devid}`;
  execFileSync('ip', ['addr', 'add', `10.1.${devid}.1/24`, 'dev', ifname]);
  execFileSync('ip', ['link', 'set', ifname, 'up']);
  const vif = app.guests.get(1)!.vifs.get(devid)!;
  if (vif.netfront.gsoAvailable() !== gso) throw new Error(`tcp: GSO is ${gso ? 'not ' : ''}negotiated on ${ifname}`);
  const transport = vif.transport!;
  transport.tcp.gso = gso;
  let received = 0;
  let sinkClosed = false;
  transport.tcp.listen(5001, (c) => {
    c.onData = (d) => { received += d.length; };
    c.onEnd = () => c.end();
    c.onClose = () => { sinkClosed = true; };
  });
  const payload = new Uint8Array(TCP_BYTES).fill(0x61);
  transport.tcp.listen(5002, (c) => { c.write(payload); c.end(); });
  const file = join(dir, 'tcp.bin');
  writeFileSync(file, payload);
  const run = promisify(execFile);
  let t0 = performance.now();
  await run('socat', ['-u', `FILE:${file}`, `TCP:10.1.${devid}.2:5001`]);
  await waitFor(() => sinkClosed, 'the guest to receive everything');
  const toGuest = (received * 8) / ((performance.now() - t0) / 1000) / 1e9;
  t0 = performance.now();
  await run('socat', ['-u', `TCP:10.1.${devid}.2:5002`, 'OPEN:/dev/null']);
  const fromGuest = (TCP_BYTES * 8) / ((performance.now() - t0) / 1000) / 1e9;
  transport.close();
  if (received !== TCP_BYTES) throw new Error(`tcp: the guest received ${received} of ${TCP_BYTES} bytes`);
  return { toGuest: +toGuest.toFixed(3), fromGuest: +fromGuest.toFixed(3) };
}

function cBaseline(bytes: number): number {
  const src = resolve('bench/c/tap-writer.c');
  const bin = join(tmpdir(), `vifd-tap-writer-${process.pid}`);
  execFileSync('gcc', ['-O2', '-o', bin, src]);
  try {
    return Number(execFileSync(bin, [`cbase${bytes}`, String(bytes), String(SECONDS)], { encoding: 'utf8' }).trim());
  } finally {
    rmSync(bin, { force: true });
  }
}

async function inner(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vifd-datapath-'));
  const ring = await startApp(dir, false);
  const rvif = await plug(ring, 'ring0');
  const ring64 = await blast(rvif, 64);
  const ring1500 = await blast(rvif, 1500);

  const rssBefore = process.memoryUsage().rss;
  for (let i = 1; i <= RSS_VIFS; i++) await plug(ring, `rss${i}`);
  const rssPerVif = (process.memoryUsage().rss - rssBefore) / RSS_VIFS / (1024 * 1024);
  ring.shutdown('host-signal');

  const tapApp = await startApp(dir, true, false);
  const tvif = await plug(tapApp, 'tap0');
  const tap64 = await blast(tvif, 64);
  const tap1514 = await blast(tvif, 1514);
  const tcpGbps = await tcp(tapApp, dir, tvif.backend.address.devid, false);
  tapApp.shutdown('host-signal');
  // A fresh app (and tap of the same name, once the first is gone), its guest's netfront
  // offering GSO as Linux's does.
  await waitFor(() => {
    try {
      execFileSync('ip', ['link', 'show', `vif1.${tvif.backend.address.devid}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  }, 'the first tap to go');
  const gsoApp = await startApp(dir, true, true);
  const gvif = await plug(gsoApp, 'gso0');
  const tcpGso = await tcp(gsoApp, dir, gvif.backend.address.devid, true);
  gsoApp.shutdown('host-signal');

  const c64 = cBaseline(64);
  const c1514 = cBaseline(1514);
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({
    bench: 'datapath',
    seconds: SECONDS,
    ring_pps_64: ring64,
    ring_pps_1500: ring1500,
    tap_pps_64: tap64,
    tap_pps_1514: tap1514,
    c_tap_pps_64: c64,
    c_tap_pps_1514: c1514,
    tap_ratio_64: +(tap64 / c64).toFixed(3),
    tap_ratio_1514: +(tap1514 / c1514).toFixed(3),
    rss_per_vif_mb: +rssPerVif.toFixed(2),
    tcp_gbps: tcpGbps.toGuest,
    tcp_gbps_from_guest: tcpGbps.fromGuest,
    tcp_gbps_gso: tcpGso.toGuest,
    tcp_gbps_gso_from_guest: tcpGso.fromGuest,
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
