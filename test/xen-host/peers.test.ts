// The two reference backends serving one real domU's netfront in the shared lab, measured as
// vifd's host platform will be: Linux's kernel netback and QEMU's xen-net-device. Proves the
// peer helpers work and prints their figures (VIFD_XEN_PEER_MIB sets the transfer size, 4 MiB by
// default; npm run bench:xen compares vifd with them at 16). The QEMU peer needs qemu-system-xen
// from bookworm-backports (scripts/xen-host-setup.sh --with-qemu-peer, which CI runs): without it,
// its test skips and says so, or fails in CI.

import { expect } from 'chai';
import type { DomU } from './domu.js';
import type { Lab } from './lab.js';
import { figuresTable, measurePeer, qemuPeerMissing, type PeerFigures, type PeerName } from './peers.js';
import { describeXen, inCi, sharedLab } from './shared-lab.js';

/** Enough to prove the peers carry TCP; bench:xen measures them at 16 MiB. */
const MIB = Number(process.env['VIFD_XEN_PEER_MIB'] ?? 4);
const DOMU_IP = '10.99.0.2';
const DOM0_ADDR = '10.99.0.1/24';

describeXen('xen-host lab: the reference peers (kernel netback, QEMU xen-net-device)', function () {
  let lab: Lab;
  let domU: DomU;
  const rows: PeerFigures[] = [];

  before(async () => {
    lab = await sharedLab();
    domU = await lab.createDomU({ name: 'peers', addresses: { eth0: `${DOMU_IP}/24` }, memoryMiB: 256 });
  });

  after(async () => {
    await domU?.destroy();
    if (rows.length > 0) process.stdout.write(`${figuresTable(rows).replace(/^/gm, '      ')}\n`);
  });

  const measure = async (peer: PeerName): Promise<PeerFigures> => {
    const f = await measurePeer(lab, domU, peer, { domUIp: DOMU_IP, dom0Addr: DOM0_ADDR, mib: MIB });
    rows.push(f);
    expect(f.toDomU.bytes).to.equal(MIB * 1048576);
    expect(f.fromDomU.bytes).to.equal(MIB * 1048576);
    expect(f.rttAvgMs).to.be.greaterThan(0);
    return f;
  };

  it(`serves the domU with kernel netback (xl network-attach): ping, ${MIB} MiB of TCP each way, detach`, async () => {
    await measure('netback');
    expect(await lab.dom0.xenstoreLs(`/local/domain/${domU.domid}/device/vif`).catch(() => []), 'vif gone').to.deep.equal([]);
  });

  it(`serves the same domU with QEMU's xen-net-device (QMP device_add): ping, ${MIB} MiB each way, device_del`, async function () {
    const missing = qemuPeerMissing();
    if (missing) {
      if (inCi()) throw new Error(`QEMU's xen-net-device cannot be measured in CI: ${missing}`);
      process.stdout.write(`      (skipped: ${missing})\n`);
      this.skip();
    }
    await measure('qemu');
    expect(lab.dom0.running().map((p) => p.name), 'QEMU gone').to.deep.equal([]);
  });
});
