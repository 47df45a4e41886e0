// The two reference backends a domU's real netfront can be served by, measured exactly as a
// test measures vifd: attach -> first ping reply, ping round trip over 20, TCP MiB/s each way.
//   netback  Linux's kernel netback, through `xl network-attach` (libxl writes backend/vif,
//            our dom0/vif-hotplug.sh gives dom0's end its address)
//   qemu     QEMU's xen-net-device (backend/qnic), QEMU being attached to the running PV
//            domU as its device model and driven over QMP through a bridge from here:
//            netdev_add tap, then device_add. Needs QEMU >= 8.2 with Xen support:
//            qemu-system-xen from bookworm-backports (xen-host-setup.sh --with-qemu-peer).

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { QmpClient, QmpMessage } from '../../src/qmp/client.js';
import type { Dom0 } from './dom0.js';
import type { DomU } from './domu.js';
import { pingAvg, pingUntil, tcpFromDomU, tcpToDomU, type TcpResult } from './network.js';
import { HARNESS } from './prerequisites.js';
import { connectQmp, type QmpBridge } from './qmp-bridge.js';

export const QEMU_DM = '/usr/libexec/xen-qemu-system-i386';

/** What the peers need of a lab (Lab has it). */
export interface PeerLab {
  dom0: Dom0;
  cache: { busybox: string };
  qmpBridge(dom0Path: string): Promise<QmpBridge>;
}

export type PeerName = 'netback' | 'qemu';

export interface PeerOptions {
  /** dom0's end of the link, with its prefix (e.g. 10.99.0.1/24). */
  dom0Addr: string;
  mac?: string;
}

/** A peer's vif, plugged into a domU. */
export interface PeerVif {
  peer: PeerName;
  /** dom0's interface: vif<domid>.<devid> for netback, the tap for QEMU. */
  iface: string;
  /** Unplugs it and waits until the domU's interface is gone; idempotent. */
  detach(): Promise<void>;
}

let qemuMissing: string | null | undefined;

/** Null when the QEMU peer can run; otherwise what to install. */
export function qemuPeerMissing(): string | null {
  if (qemuMissing === undefined) {
    let help = '';
    try {
      help = execFileSync(QEMU_DM, ['-device', 'help'], { encoding: 'utf8', timeout: 20000, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch { /* not installed, or not runnable: said below */ }
    qemuMissing = help.includes('"xen-net-device"') ? null
      : `the QEMU peer needs ${QEMU_DM} with xen-net-device (QEMU >= 8.2): run scripts/xen-host-setup.sh --with-qemu-peer`;
  }
  return qemuMissing;
}

/** Kernel netback: `xl network-attach`. */
export async function attachNetback(lab: PeerLab, domU: DomU, opts: PeerOptions): Promise<PeerVif> {
  const mark = domU.mark();
  await lab.dom0.sh('modprobe xen-netback', { timeoutMs: 30000 });
  await lab.dom0.sh(['mkdir', '-p', '/run/vifd-xen-host']);
  await lab.dom0.writeFile(`/run/vifd-xen-host/netback-${domU.domid}.addr`, opts.dom0Addr);
  await lab.dom0.sh(['xl', 'network-attach', domU.name, `mac=${opts.mac ?? '00:16:3e:00:01:02'}`,
    `script=${join(HARNESS, 'dom0/vif-hotplug.sh')}`], { timeoutMs: 60000 });
  const list = await lab.dom0.sh(['xl', 'network-list', domU.name]);
  const devid = list.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0]).pop();
  if (devid === undefined) throw new Error(`xl network-list ${domU.name} lists no vif after network-attach`);
  let detached = false;
  return {
    peer: 'netback',
    iface: `vif${domU.domid}.${devid}`,
    detach: async () => {
      if (detached) return;
      detached = true;
      await lab.dom0.sh(['xl', 'network-detach', domU.name, devid], { timeoutMs: 60000 });
      await domU.waitConsole(/VIFD-DOMU: eth\d+ gone/, { after: mark, timeoutMs: 30000 });
    },
  };
}

/** QEMU's xen-net-device: QEMU attached to the domU as its device model, the vif plugged over QMP. */
export async function attachQemu(lab: PeerLab, domU: DomU, opts: PeerOptions & { tap?: string }): Promise<PeerVif> {
  const missing = qemuPeerMissing();
  if (missing) throw new Error(missing);
  const mark = domU.mark();
  const sock = `/run/vifd-qemu-peer-${domU.domid}.qmp`;
  const tap = opts.tap ?? `qnic${domU.domid}`;
  const proc = await lab.dom0.start(`qemu-peer-${domU.domid}`, [QEMU_DM, '-xen-domid', String(domU.domid), '-xen-attach',
    '-name', domU.name, '-machine', 'xenpv', '-nodefaults', '-no-user-config', '-display', 'none',
    '-chardev', `socket,id=qmp,path=${sock},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control']);
  let bridge: QmpBridge | null = null;
  let qmp: QmpClient | null = null;
  const stop = async (): Promise<void> => {
    if (qmp && !qmp.isClosed) {
      await qmp.execute('quit').catch(() => undefined);
      qmp.close();
    }
    await bridge?.close();
    // QEMU 10 may crash on its way out of an attached PV domain; it is going either way.
    if (proc.exitCode === undefined) await proc.stop({ timeoutMs: 5000 });
  };
  try {
    bridge = await lab.qmpBridge(sock);
    qmp = await connectQmp(bridge, 30000);
    check(await qmp.execute('netdev_add', { type: 'tap', id: 'n0', ifname: tap, script: 'no', downscript: 'no' }), 'netdev_add');
    await lab.dom0.sh(`ip addr add ${opts.dom0Addr} dev ${tap} && ip link set ${tap} up`);
    check(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'xn0', netdev: 'n0', mac: opts.mac ?? '00:16:3e:00:02:02' }), 'device_add');
  } catch (err) {
    await stop();
    throw new Error(`QEMU peer: ${(err as Error).message}; its stderr: ${proc.stderr.trim().slice(-600)}`);
  }
  let detached = false;
  const client = qmp;
  return {
    peer: 'qemu',
    iface: tap,
    detach: async () => {
      if (detached) return;
      detached = true;
      try {
        check(await client.execute('device_del', { id: 'xn0' }), 'device_del');
        await client.waitEvent('DEVICE_DELETED', (d) => d['device'] === 'xn0', 30000);
        await domU.waitConsole(/VIFD-DOMU: eth\d+ gone/, { after: mark, timeoutMs: 30000 });
      } finally {
        await stop();
      }
    },
  };
}

function check(reply: QmpMessage, what: string): void {
  if ('error' in reply) throw new Error(`${what}: ${JSON.stringify(reply['error'])}`);
}

export interface PeerFigures {
  peer: string;
  /** From the attach request to dom0's first ping reply from the domU. */
  attachToPingS: number;
  rttAvgMs: number;
  toDomU: TcpResult;
  fromDomU: TcpResult;
}

export interface MeasureOptions {
  /** The domU's address (its eth0's, from DomUOptions.addresses), without prefix. */
  domUIp: string;
  /** TCP transfer size each way; default 16 MiB. */
  mib?: number;
}

/**
 * Measures a link the way every backend is measured here: `attach` is timed until dom0's first
 * ping reply, then 20 pings and a TCP transfer each way; the vif is detached afterwards in all
 * cases. For vifd, pass an attach that does its device_add.
 */
export async function measureLink(lab: PeerLab, domU: DomU, peer: string, attach: () => Promise<PeerVif | { detach(): Promise<void> }>,
  opts: MeasureOptions & { dom0Ip: string }): Promise<PeerFigures> {
  const t0 = Date.now();
  const vif = await attach();
  try {
    await pingUntil(lab.dom0, opts.domUIp, 60000);
    const attachToPingS = (Date.now() - t0) / 1000;
    const rttAvgMs = await pingAvg(lab.dom0, opts.domUIp, 20);
    const toDomU = await tcpToDomU(lab.dom0, lab.cache.busybox, domU, opts.domUIp, opts.mib ? { mib: opts.mib } : {});
    const fromDomU = await tcpFromDomU(lab.dom0, lab.cache.busybox, domU, opts.dom0Ip, opts.mib ? { mib: opts.mib } : {});
    return { peer, attachToPingS, rttAvgMs, toDomU, fromDomU };
  } finally {
    await vif.detach();
  }
}

/** One reference peer, attached, measured and detached. */
export function measurePeer(lab: PeerLab, domU: DomU, peer: PeerName, opts: MeasureOptions & PeerOptions): Promise<PeerFigures> {
  const dom0Ip = opts.dom0Addr.replace(/\/\d+$/, '');
  const attach = peer === 'netback' ? () => attachNetback(lab, domU, opts) : () => attachQemu(lab, domU, opts);
  return measureLink(lab, domU, peer, attach, { ...opts, dom0Ip });
}

/** The figures as a table, one backend a row. */
export function figuresTable(rows: readonly PeerFigures[]): string {
  const head = ['backend', 'attach->ping s', 'rtt avg ms', 'dom0->domU MiB/s', 'domU->dom0 MiB/s', 'MiB each way'];
  const body = rows.map((r) => [r.peer, r.attachToPingS.toFixed(2), r.rttAvgMs.toFixed(3), r.toDomU.mibPerSecond.toFixed(2),
    r.fromDomU.mibPerSecond.toFixed(2), String(r.toDomU.bytes / 1048576)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
