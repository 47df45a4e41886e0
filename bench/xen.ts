// vifd on a real Xen against the two reference backends, in one boot of the lab
// (test/xen-host/): vifd's host platform, QEMU 10's xen-net-device and Linux's kernel netback,
// each serving a fresh PV domU of the same kind through its real netfront, each measured the
// same way: attach to the first ping reply, the ping round trip over 20, and TCP MiB/s each way
// (busybox nc both ends, byte counts checked). Under TCG the absolute figures are small and
// swing ~40% between boots: only the ratios within one boot count. Prints a table, then one
// JSON line with the figures and the ratios vifd/qemu and vifd/netback.
//
// Run as root: npm run bench:xen (VIFD_XEN_BENCH_MIB sets the transfer size, 16 by default; the
// QEMU peer needs scripts/xen-host-setup.sh --with-qemu-peer).

import type { DomU } from '../test/xen-host/domu.js';
import { Lab } from '../test/xen-host/lab.js';
import { figuresTable, measureLink, measurePeer, qemuPeerMissing, type PeerFigures } from '../test/xen-host/peers.js';
import { whyNoXenHost } from '../test/xen-host/prerequisites.js';
import { startVifd, vifdQmp } from '../test/xen-host/vifd-in-dom0.js';

const MIB = Number(process.env['VIFD_XEN_BENCH_MIB'] ?? 16);
const DOMU_IP = '10.99.0.2';
const DOM0_IP = '10.99.0.1';
const QMP_PATH = '/run/vifd-bench.qmp';

async function freshDomU(lab: Lab, name: string): Promise<DomU> {
  return lab.createDomU({ name, memoryMiB: 256, addresses: { eth0: `${DOMU_IP}/24` } });
}

/** vifd, started before the clock runs (a dom0 starts it once, not per guest), then measured as the peers are. */
async function measureVifd(lab: Lab, domU: DomU): Promise<PeerFigures> {
  const vifd = await startVifd(lab, 'vifd-bench', QMP_PATH, ['-accel', 'xen', '-dashboard', 'none']);
  const bridge = await lab.qmpBridge(QMP_PATH);
  const qmp = await vifdQmp(vifd, bridge);
  try {
    return await measureLink(lab, domU, 'vifd', async () => {
      const mark = domU.mark();
      const r = await qmp.execute('device_add', { driver: 'xen-net-device', id: 'bench0', 'frontend-id': domU.domid });
      if (!('return' in r)) throw new Error(`device_add: ${JSON.stringify(r)}`);
      const tap = `vif${domU.domid}.1`;
      await lab.dom0.sh(`for i in $(seq 100); do ip link show ${tap} >/dev/null 2>&1 && break; sleep 0.05; done
        ip addr add ${DOM0_IP}/24 dev ${tap} && ip link set ${tap} up`);
      return {
        detach: async () => {
          await qmp.execute('device_del', { id: 'bench0' });
          await qmp.waitEvent('DEVICE_DELETED', (d) => d['device'] === 'bench0', 60000);
          await domU.waitConsole(/VIFD-DOMU: eth\d+ gone/, { after: mark, timeoutMs: 30000 });
        },
      };
    }, { domUIp: DOMU_IP, dom0Ip: DOM0_IP, mib: MIB });
  } finally {
    qmp.close();
    await bridge.close();
    await vifd.proc.stop();
  }
}

function ratio(a: number, b: number | undefined): number | null {
  return b === undefined || b === 0 ? null : Math.round((a / b) * 1000) / 1000;
}

async function main(): Promise<void> {
  const why = whyNoXenHost();
  if (why) throw new Error(`cannot run the Xen lab: ${why}`);
  const lab = await Lab.boot();
  const rows: PeerFigures[] = [];
  try {
    const backends: Array<[string, (d: DomU) => Promise<PeerFigures>]> = [
      ['vifd', (d) => measureVifd(lab, d)],
      ['netback', (d) => measurePeer(lab, d, 'netback', { domUIp: DOMU_IP, dom0Addr: `${DOM0_IP}/24`, mib: MIB })],
    ];
    const qemuMissing = qemuPeerMissing();
    if (qemuMissing) process.stderr.write(`bench:xen: no QEMU peer: ${qemuMissing}\n`);
    else backends.push(['qemu', (d) => measurePeer(lab, d, 'qemu', { domUIp: DOMU_IP, dom0Addr: `${DOM0_IP}/24`, mib: MIB })]);
    for (const [name, measure] of backends) {
      const domU = await freshDomU(lab, `bench-${name}`);
      try {
        rows.push(await measure(domU));
      } finally {
        await domU.destroy();
      }
    }
  } finally {
    await lab.powerOff();
  }
  process.stdout.write(`${figuresTable(rows)}\n`);
  const by = (p: string): PeerFigures | undefined => rows.find((r) => r.peer === p);
  const vifd = by('vifd')!;
  const figures = Object.fromEntries(rows.map((r) => [r.peer, {
    attach_to_ping_s: r.attachToPingS, rtt_avg_ms: r.rttAvgMs,
    tcp_to_domu_mib_s: r.toDomU.mibPerSecond, tcp_from_domu_mib_s: r.fromDomU.mibPerSecond,
  }]));
  const ratios: Record<string, number | null> = {};
  for (const ref of ['qemu', 'netback']) {
    const r = by(ref);
    if (!r) continue;
    ratios[`tcp_to_domu_vifd_over_${ref}`] = ratio(vifd.toDomU.mibPerSecond, r.toDomU.mibPerSecond);
    ratios[`tcp_from_domu_vifd_over_${ref}`] = ratio(vifd.fromDomU.mibPerSecond, r.fromDomU.mibPerSecond);
    ratios[`attach_to_ping_vifd_over_${ref}`] = ratio(vifd.attachToPingS, r.attachToPingS);
    ratios[`rtt_vifd_over_${ref}`] = ratio(vifd.rttAvgMs, r.rttAvgMs);
  }
  process.stdout.write(`${JSON.stringify({ mib: MIB, figures, ratios })}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:xen: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
