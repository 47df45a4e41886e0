// qom-list, qom-get and qom-list-types: QEMU's tree skeleton and types, and a device's
// properties and live state (XenbusStates, counters) as declared in schema/devices.

import { expect } from 'chai';
import { schemas } from '../../src/schema/registry.js';
import { startApp, useAppWithClient } from '../helpers/app.js';
import { QmpTestClient, eventually } from '../helpers/qmp-client.js';

describe('QOM tree over QMP', () => {
  const s = useAppWithClient();

  const ret = async (cmd: string, args?: Record<string, unknown>): Promise<unknown> => {
    const r = await s.qmp.execute(cmd, args);
    if ('error' in r) throw new Error(JSON.stringify(r['error']));
    return r['return'];
  };

  it('lists a hotplugged device under /machine/peripheral and an anonymous one under peripheral-anon', async () => {
    await ret('device_add', { driver: 'xen-net-device', id: 'nic0' });
    await ret('device_add', { driver: 'xen-net-device' });
    expect(await ret('qom-list', { path: '/machine/peripheral' })).to.deep.equal([
      { name: 'type', type: 'string' }, { name: 'nic0', type: 'child<xen-net-device>' }]);
    expect(await ret('qom-list', { path: '/machine/peripheral-anon' })).to.deep.equal([
      { name: 'type', type: 'string' }, { name: 'device[0]', type: 'child<xen-net-device>' }]);
    expect(await ret('qom-get', { path: '/machine/peripheral', property: 'nic0' })).to.equal('/machine/peripheral/nic0');
  });

  it('lists every property and live-state member schema/devices declares, and reads them', async () => {
    await ret('device_add', { driver: 'xen-net-device', id: 'nic0', mac: '52:54:00:AB:CD:EF' });
    const schema = schemas().require('device', 'xen-net-device').schema;
    const declared = [...Object.keys(schema.properties ?? {}), ...Object.keys(schema['x-qom-state'] ?? {})];
    const listed = (await ret('qom-list', { path: 'nic0' })) as Array<{ name: string; type: string }>;
    expect(listed.map((p) => p.name)).to.deep.equal(['type', 'parent_bus', 'realized', 'hotplugged', 'hotpluggable', ...declared]);
    expect(await ret('qom-get', { path: 'nic0', property: 'hotplugged' })).to.equal(true);
    expect(listed.find((p) => p.name === 'frontend-id')!.type).to.equal('uint16');
    expect(await ret('qom-get', { path: '/machine/peripheral/nic0', property: 'mac' })).to.equal('52:54:00:ab:cd:ef');
    expect(await ret('qom-get', { path: 'nic0', property: 'type' })).to.equal('xen-net-device');
    expect(await ret('qom-get', { path: 'nic0', property: 'realized' })).to.equal(true);
    await eventually(async () => (await ret('qom-get', { path: 'nic0', property: 'frontend-state-name' })) === 'Connected',
      10000, 'the frontend to connect');
    expect(await ret('qom-get', { path: 'nic0', property: 'backend-state' })).to.equal(4);
    const stats = (await ret('qom-get', { path: 'nic0', property: 'stats' })) as Record<string, number>;
    expect(Object.keys(stats).sort()).to.deep.equal(Object.keys(schema['x-qom-state']!['stats']!.properties!).sort());
    for (const name of declared) {
      const v = await ret('qom-get', { path: 'nic0', property: name });
      expect(v, name).to.not.equal(undefined);
    }
  });

  it('answers unknown paths and properties with QEMU\'s errors', async () => {
    const err = async (cmd: string, args: Record<string, unknown>): Promise<unknown> => (await s.qmp.execute(cmd, args))['error'];
    expect(await err('qom-list', { path: '/machine/peripheral/x' }))
      .to.deep.equal({ class: 'DeviceNotFound', desc: "Device '/machine/peripheral/x' not found" });
    expect(await err('qom-get', { path: '/machine', property: 'nosuch' }))
      .to.deep.equal({ class: 'GenericError', desc: "Property 'none-machine.nosuch' not found" });
    await ret('device_add', { driver: 'xen-net-device', id: 'peripheral-anon' });
    expect(await err('qom-list', { path: 'peripheral-anon' }))
      .to.deep.equal({ class: 'GenericError', desc: "Path 'peripheral-anon' is ambiguous" });
  });

  it('says a -device is cold-plugged and lists a type\'s properties with qom-list-properties', async () => {
    const cold = await startApp(['-device', 'xen-net-device,id=cold0']);
    const cc = await QmpTestClient.connect(cold.qmpPath);
    try {
      expect(await cc.execute('qom-get', { path: 'cold0', property: 'hotplugged' })).to.deep.equal({ return: false });
    } finally {
      cc.close();
      await cold.stop();
    }
    const props = (await ret('qom-list-properties', { typename: 'xen-net-device' })) as Array<{ name: string }>;
    expect(props.map((p) => p.name)).to.deep.equal(['type', 'parent_bus', 'realized', 'hotplugged', 'hotpluggable',
      'frontend-id', 'netdev', 'idx', 'mac']);
    expect((await s.qmp.execute('qom-list-properties', { typename: 'nosuch' }))['error'])
      .to.deep.equal({ class: 'DeviceNotFound', desc: "Class 'nosuch' not found" });
  });

  it('lists types the way QEMU does: abstract ones only when asked, filtered by what they implement', async () => {
    expect(await ret('qom-list-types', { implements: 'xen-device', abstract: true })).to.deep.equal([
      { name: 'xen-device', abstract: true, parent: 'device' }, { name: 'xen-net-device', parent: 'xen-device' }]);
    expect(await ret('qom-list-types', { implements: 'xen-bus' })).to.deep.equal([{ name: 'xen-bus', parent: 'bus' }]);
    expect(await ret('qom-list-types', { implements: 'no-such-type' })).to.deep.equal([]);
  });
});
