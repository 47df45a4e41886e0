// __com.vifd_vif-ring-info and -kick on vifs of one and of two queues: queue 0 stays at the
// top level (the one-queue shape), `queues` lists each queue with its own tx and rx ports, and
// every reply matches the command's `returns` schema.

import { expect } from 'chai';
import { schemas } from '../../src/schema/registry.js';
import { QmpClient } from '../../src/qmp/client.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/qmp-client.js';

describe('__com.vifd_vif-ring-info and -kick per queue', function () {
  this.timeout(20000);
  let t: TestApp | undefined;
  let qmp: QmpClient | undefined;
  afterEach(async () => {
    qmp?.close();
    await t?.stop();
  });

  const qmpAnnotation = schemas().require('command', '__com.vifd_vif-ring-info').schema['x-qmp'] as { returns: object };
  const returns = schemas().ajv.compile(qmpAnnotation.returns);

  const connectedInfo = async (queues: number): Promise<Record<string, any>> => {
    t = await startApp(['-guest', `domid=1,queues=${queues}`], { maxQueues: 2 });
    qmp = await QmpClient.connect(t.qmpPath);
    await qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic0' });
    return (await eventually(async () => {
      const r = (await qmp!.execute('__com.vifd_vif-ring-info', { id: 'nic0' }))['return'] as Record<string, any>;
      return r['connected'] === true && t!.app.bus.list()[0]?.backendState === 4 ? r : null;
    }, 10000, 'the vif to connect'))!;
  };

  it('answers the one-queue shape with queue 0 at the top level and a one-entry queue list', async () => {
    const r = await connectedInfo(1);
    expect(returns(r), JSON.stringify(returns.errors)).to.equal(true);
    expect(r).to.include.keys('vif', 'connected', 'disabled', 'tx', 'rx', 'rx-queued', 'queues');
    expect(r['tx']['nr-ents']).to.equal(256);
    expect(r['queues']).to.have.length(1);
    expect(r['queues'][0]).to.deep.include({ id: 0, 'split-event-channels': true, 'rx-stopped': false });
    expect(r['queues'][0]['tx']['req-prod']).to.equal(r['tx']['req-prod']);
  });

  it('lists both queues of a two-queue vif, each with two ports of its own, and kicks them all', async () => {
    const r = await connectedInfo(2);
    expect(returns(r), JSON.stringify(returns.errors)).to.equal(true);
    const queues = r['queues'] as Array<Record<string, any>>;
    expect(queues.map((q) => q['id'])).to.deep.equal([0, 1]);
    const ports = queues.flatMap((q) => [q['event-channel-tx'], q['event-channel-rx']]);
    expect(new Set(ports).size).to.equal(4);
    for (const port of ports) expect(t!.app.platform.channels.info(0, port).status).to.equal('interdomain');
    const upcalls = (): number => t!.app.platform.channels.list().filter((p) => p.domid === 1).reduce((n, p) => n + p.upcalls, 0);
    const before = upcalls();
    expect(await qmp!.execute('__com.vifd_vif-kick', { id: 'nic0' })).to.deep.include({ return: { kicked: true } });
    // Every guest port is raised: four upcalls at least.
    await eventually(() => upcalls() - before >= 4, 5000, 'an upcall on every guest port');
  });
});
