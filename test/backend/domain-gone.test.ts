// A frontend's domain that goes (xl destroy, a crash) takes its vifs with it, as netback's go
// when the toolstack tears the domain down: rings unmapped, channels unbound, the backend
// directories and the domain's backend area removed, DEVICE_DELETED sent; vifd and the other
// domains' vifs carry on.

import { expect } from 'chai';
import { directoryOrEmpty } from '../../src/xen/xenstore/index.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';

describe('a frontend domain that goes', function () {
  this.timeout(20000);
  let t: TestApp;
  let qmp: QmpTestClient;

  beforeEach(async () => {
    t = await startApp(['-guest', 'domid=1', '-guest', 'domid=2']);
    qmp = await QmpTestClient.connect(t.qmpPath);
  });
  afterEach(async () => {
    qmp.close();
    await t.stop();
  });

  const connected = () => eventually(() => t.app.bus.list().length > 0 &&
    t.app.bus.list().every((d) => d.backendState === 4 && d.frontendState === 4), 5000, 'every vif connected');

  it('takes its vifs with it, leaving nothing of them, while another domain\'s vif goes on', async () => {
    for (const [id, fe] of [['a', 1], ['b', 1], ['c', 2]] as const) {
      expect(await qmp.execute('device_add', { driver: 'xen-net-device', id, 'frontend-id': fe })).to.deep.equal({ return: {} });
    }
    await connected();
    const ports = () => t.app.platform.channels.list().filter((p) => p.domid === 0 && p.status === 'interdomain');
    // Split event channels: a tx and an rx port per vif.
    expect(ports().length).to.equal(6);

    t.app.platform.destroyDomain(1);
    for (const id of ['a', 'b']) await qmp.waitEvent('DEVICE_DELETED', (d) => d['device'] === id);
    expect(directoryOrEmpty(t.app.platform.xs, '/local/domain/0/backend/qnic')).to.deep.equal(['2']);
    expect(ports().map((p) => p.remoteDomid)).to.deep.equal([2, 2]);
    expect(t.app.bus.list().map((d) => d.address.frontendId)).to.deep.equal([2]);
    expect(qmp.events.some((e) => e['event'] === 'DEVICE_DELETED' && (e['data'] as Record<string, unknown>)['device'] === 'c'))
      .to.equal(false);
    // vifd answers, and the other domain's vif is still connected.
    expect((await qmp.execute('query-status'))['return']).to.deep.include({ running: true });
    expect(t.app.bus.list()[0]!.backendState).to.equal(4);
    // A device for the gone domain is refused, as for any domain that does not exist.
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', 'frontend-id': 1 }))
      .to.deep.equal({ error: { class: 'GenericError', desc: 'frontend-id 1: no such guest domain' } });
  });
});
