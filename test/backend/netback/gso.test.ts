// GSO on the netif ring against the real backend: a peer without a virtio_net_hdr (no tap,
// a hub) gets no GSO or IPv6 checksum offload advertised, so the guest's TCP sends plain
// segments; and a guest that sends a bad GSO extra anyway (size 0, an unknown GSO type) or bad
// extras disables only its own vif, as netback's xenvif_fatal_tx_err(), with the error node
// where the toolstack looks.

import { expect } from 'chai';
import type { XenNetDevice } from '../../../src/backend/netback/xen-net-device.js';
import type { GuestVif } from '../../../src/guest/guest.js';
import { NETIF_RSP_OKAY, NETTXF_csum_blank, NETTXF_extra_info, NETTXF_more_data, XEN_NETIF_GSO_TYPE_TCPV4 } from '../../../src/protocol/netif.js';
import { XenbusState } from '../../../src/protocol/xenbus.js';
import { startApp, type TestApp } from '../../helpers/app.js';
import { eventually } from '../../helpers/qmp-client.js';

const BE = '/local/domain/0/backend/qnic/1/0';
const ERROR_NODE = '/local/domain/0/error/backend/qnic/1/0/error';

/** A 1514-byte IPv4 TCP frame (headers valid for a TCPv4 GSO packet). */
function tcpFrame(): Uint8Array {
  const f = new Uint8Array(1514);
  f.set([0x00, 0x16, 0x3e, 0x00, 0x00, 0x01, 0x00, 0x16, 0x3e, 0x00, 0x00, 0x02, 0x08, 0x00], 0);
  f.set([0x45, 0, 0x05, 0xdc, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 1, 0, 2, 10, 1, 0, 1], 14);
  f[34 + 12] = 5 << 4;
  return f;
}

const gsoExtra = (size: number, gsoType: number, type = 1, flags = 0) =>
  Uint8Array.of(type, flags, size & 0xff, size >> 8, gsoType, 0, 0, 0);

describe('GSO on the netif ring', function () {
  this.timeout(20000);
  let t: TestApp;

  afterEach(async () => { await t?.stop(); });

  async function plugged(netdev?: string): Promise<{ vif: GuestVif; backend: XenNetDevice }> {
    t.app.devices.add({ driver: 'xen-net-device', id: 'nic0', ...(netdev ? { netdev } : {}) });
    const vif = (await eventually(() => {
      const v = t.app.guests.get(1)?.vifs.get(0);
      return v?.netfront.state === XenbusState.Connected && v.netfront.backendState === XenbusState.Connected ? v : null;
    }, 10000, 'the vif to connect'))!;
    return { vif, backend: t.app.bus.list()[0] as XenNetDevice };
  }

  describe('a peer without a virtio_net_hdr', () => {
    for (const netdev of [undefined, 'hp0']) {
      it(`advertises feature-sg but no GSO or IPv6 csum offload (${netdev ? 'hubport' : 'no peer'})`, async () => {
        t = await startApp();
        if (netdev) await t.app.netdevs.add({ type: 'hubport', id: netdev, hubid: 0 } as never);
        const { vif } = await plugged(netdev);
        const xs = t.app.platform.xs;
        expect(xs.readString(`${BE}/feature-sg`)).to.equal('1');
        for (const key of ['feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload']) {
          expect(xs.readString(`${BE}/${key}`), key).to.equal(undefined);
        }
        // The guest offers them all the same, as Linux's netfront, but cannot use GSO here.
        expect(xs.readString('/local/domain/1/device/vif/0/feature-gso-tcpv4')).to.equal('1');
        expect(vif.netfront.gsoAvailable(XEN_NETIF_GSO_TYPE_TCPV4)).to.equal(false);
        expect(() => vif.netfront.send(tcpFrame(), { csumBlank: true, gso: { size: 1448, type: XEN_NETIF_GSO_TYPE_TCPV4 } }))
          .to.throw(RangeError, /not negotiated/);
      });
    }
  });

  describe('a guest sending bad GSO anyway', () => {
    const cases: Array<[string, Array<Record<string, unknown>>, string]> = [
      ['a GSO size of 0', [{ size: 1514, flags: NETTXF_extra_info | NETTXF_csum_blank }, { extra: gsoExtra(0, 1) }],
        'GSO size must not be zero.'],
      ['an unknown GSO type', [{ size: 1514, flags: NETTXF_extra_info | NETTXF_csum_blank }, { extra: gsoExtra(1448, 3) }],
        'Bad GSO type 3.'],
      ['an extra of an invalid type', [{ size: 1514, flags: NETTXF_extra_info }, { extra: gsoExtra(1448, 1, 6) }],
        'Invalid extra type: 6'],
      ['a GSO extra whose MORE flag promises an extra that is a data slot', [
        { size: 1514, flags: NETTXF_extra_info | NETTXF_more_data }, { extra: gsoExtra(1448, 1, 1, 1) },
        { extra: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0) }], 'Invalid extra type: 0'],
    ];
    for (const [what, slots, reason] of cases) {
      it(`disables the vif on ${what}, with the error node, and leaves the state alone`, async () => {
        t = await startApp();
        const { vif, backend } = await plugged();
        // A good GSO-less packet first: the ring works.
        expect((await vif.netfront.injectTx({ size: 1514, data: tcpFrame() })).status).to.equal(NETIF_RSP_OKAY);
        const pending = vif.netfront.injectTxBatch(slots.map((s) => ('extra' in s ? s : { ...s, data: tcpFrame() })) as never);
        pending.catch(() => undefined);
        await eventually(() => backend.disabledReason !== null, 5000, 'the vif to be disabled');
        expect(backend.disabledReason).to.equal(reason);
        expect(t.app.platform.xs.readString(ERROR_NODE)).to.equal(`22 fatal error; disabling device: ${reason}`);
        expect(t.app.platform.xs.readString(`${BE}/state`)).to.equal(String(XenbusState.Connected));
      });
    }
  });
});
