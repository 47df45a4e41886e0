// Offloads follow the tap's vnet_hdr, as QEMU's virtio-net offers them only when its peer has
// a virtio_net_hdr: a netdev tap with vnet_hdr=off gets feature-sg only, one with the default
// gets GSO and IPv6 checksum offload as well; both carry the namespace's pings. The kernel is
// told (TUNSETOFFLOAD, seen with ethtool) to hand the tap checksum-offloaded and TSO frames only
// while a guest that takes them is connected.

import { runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';

describe('e2e: offloads follow the tap\'s vnet_hdr', function () {
  this.timeout(60000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  it('advertises GSO and IPv6 csum offload only with a virtio_net_hdr, and both taps pass pings', () => {
    const steps = runFixtureSteps(ns, 'tap-offloads', [], { timeoutMs: 45000 });
    const on = { 'tx-checksumming': 'on', 'tx-tcp-segmentation': 'on', 'tx-tcp6-segmentation': 'on' };
    const off = { 'tx-checksumming': 'off', 'tx-tcp-segmentation': 'off', 'tx-tcp6-segmentation': 'off' };
    const expected = {
      plain0: {
        features: { 'feature-sg': '1', 'feature-gso-tcpv4': null, 'feature-gso-tcpv6': null, 'feature-ipv6-csum-offload': null },
        gso: false, pings: true, connected: off, unplugged: off,
      },
      vnet1: {
        features: { 'feature-sg': '1', 'feature-gso-tcpv4': '1', 'feature-gso-tcpv6': '1', 'feature-ipv6-csum-offload': '1' },
        gso: true, pings: true, connected: on, unplugged: off,
      },
    };
    for (const [ifname, e] of Object.entries(expected)) {
      steps.expect(`read ${ifname}'s offload keys`).to.deep.equal(e.features);
      steps.expect(`ask whether the guest may use GSO on ${ifname}`).to.equal(e.gso);
      steps.expect(`ping the guest through ${ifname}`).to.equal(e.pings);
      steps.expect(`read ${ifname}'s offloads while connected`).to.deep.equal(e.connected);
      steps.expect(`read ${ifname}'s offloads once unplugged`).to.deep.equal(e.unplugged);
    }
  });
});
