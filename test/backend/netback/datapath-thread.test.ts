// Which vifs run on the datapath thread, and what the control side does when that thread is
// gone: a vif without a peer goes to the thread, one on a hub stays with its hub on the main
// thread; both connect and count the guest's frames. Once the thread has ended, the vifs can
// still be queried and unplugged (their datapath is gone with it), and a new one is refused
// with an error that says why.

import { expect } from 'chai';
import type { XenNetDevice } from '../../../src/backend/netback/xen-net-device.js';
import { XenbusState } from '../../../src/protocol/xenbus.js';
import { QmpClient } from '../../../src/qmp/client.js';
import { eventually } from '../../helpers/qmp-client.js';
import { startApp, type TestApp } from '../../helpers/app.js';

describe('vifs and the datapath thread', function () {
  this.timeout(20000);
  let t: TestApp;
  let qmp: QmpClient;

  before(async () => {
    t = await startApp([], { datapathThread: true });
    qmp = await QmpClient.connect(t.qmpPath);
  });
  after(async () => {
    qmp?.close();
    await t?.stop();
  });

  const backend = (idx: number): XenNetDevice =>
    t.app.bus.list().find((b) => b.address.devid === idx && !b.destroyed) as XenNetDevice;
  const connected = async (idx: number): Promise<void> => {
    const nf = () => t.app.guests.get(1)!.vifs.get(idx)?.netfront;
    await eventually(() => backend(idx)?.backendState === XenbusState.Connected && nf()?.state === XenbusState.Connected,
      5000, `vif ${idx} connected`);
  };

  it('runs a vif without a peer on the thread and one on a hub on the main thread; both carry frames', async () => {
    expect(await qmp.execute('netdev_add', { type: 'hubport', id: 'hp0', hubid: 0 })).to.deep.equal({ return: {} });
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'solo', idx: 0 })).to.deep.equal({ return: {} });
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'hubbed', idx: 1, netdev: 'hp0' }))
      .to.deep.equal({ return: {} });
    await connected(0);
    await connected(1);
    expect(backend(0).onDatapathThread).to.equal(true);
    expect(backend(1).onDatapathThread).to.equal(false);
    const frame = new Uint8Array(60).fill(0xff, 0, 6);
    for (const idx of [0, 1]) {
      const before = backend(idx).stats.txPackets;
      expect(t.app.guests.get(1)!.vifs.get(idx)!.netfront.send(frame)).to.equal(true);
      await eventually(() => backend(idx).stats.txPackets === before + 1, 2000, `vif ${idx} counted the frame`);
    }
    const ring = (await qmp.execute('__com.vifd_vif-ring-info', { id: 'solo' }))['return'] as Record<string, any>;
    expect(ring['queues']).to.have.length(1);
  });

  it('still answers for and unplugs its vifs once the thread is gone, and refuses new ones with the reason', async () => {
    t.app.bus.datapathThread!.close();
    const ring = (await qmp.execute('__com.vifd_vif-ring-info', { id: 'solo' }))['return'] as Record<string, any>;
    expect(ring).to.include({ vif: 'vif1.0' });
    expect(await qmp.execute('device_del', { id: 'solo' })).to.deep.equal({ return: {} });
    await eventually(() => !t.app.devices.find('solo'), 5000, 'solo deleted');
    const r = await qmp.execute('device_add', { driver: 'xen-net-device', id: 'late', idx: 2 });
    expect(r['error']).to.deep.include({ class: 'GenericError' });
    expect((r['error'] as { desc: string }).desc).to.match(/datapath thread datapath0 was stopped/);
    // The hub's vif never depended on the thread.
    const hubbed = (await qmp.execute('__com.vifd_vif-ring-info', { id: 'hubbed' }))['return'] as Record<string, any>;
    expect(hubbed['queues']).to.have.length(1);
  });
});
