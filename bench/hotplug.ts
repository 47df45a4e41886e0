// Hotplug latency (device_add → backend Connected, as reported by __com.vifd_VIF_STATE) over
// 50 hotplug/unplug cycles, and ping RTT through the tap, against a kernel-only reference run in
// the same script: ping over a veth pair between two namespaces. Needs root (ip netns).
// The last line printed is one JSON object.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QmpClient } from '../src/qmp/client.js';

const CYCLES = Number(process.env['HOTPLUG_CYCLES'] ?? 50);
const PINGS = Number(process.env['PING_COUNT'] ?? 200);

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function pingStats(ns: string, target: string): { min: number; avg: number; max: number; mdev: number; loss: number } {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'ping', '-q', '-c', String(PINGS), '-i', '0.002', '-W', '1', target],
    { encoding: 'utf8' });
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(out);
  const loss = /([\d.]+)% packet loss/.exec(out);
  if (!rtt) throw new Error(`unexpected ping output: ${out}`);
  return { min: +rtt[1]!, avg: +rtt[2]!, max: +rtt[3]!, mdev: +rtt[4]!, loss: loss ? +loss[1]! : 100 };
}

async function main(): Promise<void> {
  const tag = `vifdb-${process.pid}`;
  const ns = `${tag}-a`;
  const peer = `${tag}-b`;
  const dir = mkdtempSync(join(tmpdir(), 'vifd-bench-'));
  const sock = join(dir, 'qmp.sock');
  ip('netns', 'add', ns);
  ip('netns', 'add', peer);
  const vifd = spawn('ip', ['netns', 'exec', ns, process.execPath, resolve('bin/vifd.js'), '-qmp', `unix:${sock},server=on,wait=off`],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, VIFD_LOG: 'warn' } });
  try {
    for (let i = 0; i < 300 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const qmp = await QmpClient.connect(sock);

    const latencies: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const id = `bench${i}`;
      const t0 = process.hrtime.bigint();
      const r = await qmp.execute('device_add', { driver: 'xen-net-device', id });
      if (!('return' in r)) throw new Error(`device_add failed: ${JSON.stringify(r)}`);
      await qmp.waitEvent('__com.vifd_VIF_STATE', (d) => d['device'] === id && d['side'] === 'backend' && d['state'] === 4);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await qmp.execute('device_del', { id });
      await qmp.waitEvent('DEVICE_DELETED', (d) => d['device'] === id);
      qmp.events.length = 0;
    }
    latencies.sort((a, b) => a - b);

    await qmp.execute('device_add', { driver: 'xen-net-device', id: 'ping0' });
    await qmp.waitEvent('__com.vifd_VIF_STATE', (d) => d['device'] === 'ping0' && d['side'] === 'backend' && d['state'] === 4);
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', '10.1.0.1/24', 'dev', 'vif1.0');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'vif1.0', 'up');
    const vifPing = pingStats(ns, '10.1.0.2');

    // Reference: the kernel alone, veth between two namespaces, same ping.
    ip('link', 'add', `${tag}-x`, 'netns', ns, 'type', 'veth', 'peer', 'name', `${tag}-y`, 'netns', peer);
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', '10.99.0.1/24', 'dev', `${tag}-x`);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', `${tag}-x`, 'up');
    ip('netns', 'exec', peer, 'ip', 'addr', 'add', '10.99.0.2/24', 'dev', `${tag}-y`);
    ip('netns', 'exec', peer, 'ip', 'link', 'set', `${tag}-y`, 'up');
    const vethPing = pingStats(ns, '10.99.0.2');

    qmp.close();
    const result = {
      bench: 'hotplug',
      cycles: CYCLES,
      hotplug_ms_p50: +percentile(latencies, 50).toFixed(3),
      hotplug_ms_p99: +percentile(latencies, 99).toFixed(3),
      hotplug_ms_max: +latencies[latencies.length - 1]!.toFixed(3),
      ping_count: PINGS,
      ping_rtt_ms_avg: vifPing.avg,
      ping_rtt_ms_min: vifPing.min,
      ping_rtt_ms_max: vifPing.max,
      ping_loss_pct: vifPing.loss,
      veth_ping_rtt_ms_avg: vethPing.avg,
      ping_rtt_ratio_vs_veth: +(vifPing.avg / vethPing.avg).toFixed(2),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    vifd.kill('SIGTERM');
    await new Promise((r) => vifd.once('exit', r));
    for (const n of [ns, peer]) {
      try { ip('netns', 'del', n); } catch { /* gone */ }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench/hotplug: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
