// Without CAP_NET_ADMIN vifd cannot create taps: vifs still connect to their guests, run
// without a host-side peer, and the operator is told once.

import { expect } from 'chai';
import { NetNs } from '../helpers/netns.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { VifdProcess } from '../helpers/vifd-process.js';

describe('e2e: vifd without CAP_NET_ADMIN', function () {
  this.timeout(60000);
  let ns: NetNs;
  let vifd: VifdProcess;

  before(async () => {
    ns = NetNs.create();
    vifd = await VifdProcess.start(ns, [], {}, {
      wrapper: ['setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin', '--'],
    });
  });

  after(async () => {
    await vifd?.stop();
    ns?.destroy();
  });

  it('hot-plugs vifs that connect without taps, with one clear warning', async () => {
    const qmp = await QmpTestClient.connect(vifd.qmpPath);
    for (const id of ['a', 'b']) expect(await qmp.execute('device_add', { driver: 'xen-net-device', id })).to.deep.equal({ return: {} });
    for (const idx of [0, 1]) {
      await eventually(async () => (await qmp.execute('__com.vifd_xenstore-read',
        { path: `/local/domain/0/backend/qnic/1/${idx}/state` }))['return'] === '4', 10000, `vif ${idx} Connected`);
    }
    expect(ns.hasLink('vif1.0')).to.equal(false);
    const warnings = vifd.stderr.split('\n').filter((l) => l.includes('cannot create tap'));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/vifs run without a host-side peer; run vifd with CAP_NET_ADMIN to get taps/);
    qmp.close();
  });
});
