// The QMP commands the dashboard page is built on, over the unix socket like any other client.

import { expect } from 'chai';
import { probe } from '../helpers/oracle.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { startApp, type TestApp } from '../helpers/app.js';

type Row = Record<string, unknown>;

describe('the dashboard\'s QMP commands', () => {
  let t: TestApp;
  let c: QmpTestClient;
  beforeEach(async () => {
    t = await startApp(['-guest', 'domid=1,name=web', '-guest', 'domid=2']);
    c = await QmpTestClient.connect(t.qmpPath);
  });
  afterEach(async () => {
    c.close();
    await t.stop();
  });

  async function vifs(): Promise<Row[]> {
    return (await c.execute('__com.vifd_query-vifs'))['return'] as Row[];
  }

  describe('__com.vifd_query-vifs', () => {
    it('has one row per xen-net-device with names, states, link and counters', async () => {
      expect(await vifs()).to.deep.equal([]);
      await c.execute('device_add', { driver: 'xen-net-device', id: 'nic0', mac: '00:16:3e:00:00:07', 'frontend-id': 2 });
      await c.execute('device_add', { driver: 'xen-net-device' });
      const rows = (await eventually(async () => {
        const r = await vifs();
        return r.length === 2 && r.every((v) => v['frontend-state-name'] === 'Connected') ? r : undefined;
      }, 10000, 'both vifs Connected'))!;
      const nic0 = rows.find((r) => r['id'] === 'nic0')!;
      expect(nic0).to.deep.include({
        path: '/machine/peripheral/nic0', vif: 'vif2.0', 'frontend-id': 2, devid: 0, mac: '00:16:3e:00:00:07',
        netdev: '', peer: 'none', 'backend-path': '/local/domain/0/backend/qnic/2/0', 'frontend-path': '/local/domain/2/device/vif/0',
        'backend-state': 4, 'backend-state-name': 'Connected', 'frontend-state': 4, 'frontend-state-name': 'Connected',
        link: 'up', 'unplug-pending': false,
      });
      expect(Object.keys(nic0['stats'] as Row).sort()).to.deep.equal(
        ['rx-bytes', 'rx-dropped', 'rx-errors', 'rx-packets', 'tx-bytes', 'tx-dropped', 'tx-errors', 'tx-packets']);
      const anon = rows.find((r) => r['id'] === undefined)!;
      expect(anon).to.deep.include({ path: '/machine/peripheral-anon/device[0]', vif: 'vif1.0' });
    });

    it('shows a pending unplug until the device is gone', async () => {
      await c.execute('device_add', { driver: 'xen-net-device', id: 'nic0' });
      await eventually(async () => (await vifs())[0]?.['frontend-state'] === 4, 10000, 'Connected');
      await c.execute('device_del', { id: 'nic0' });
      const r = await vifs();
      if (r.length === 1) expect(r[0]!['unplug-pending']).to.equal(true);
      await c.waitEvent('DEVICE_DELETED');
      expect(await vifs()).to.deep.equal([]);
    });
  });

  describe('__com.vifd_query-guests', () => {
    it('lists each guest with its vifs, addresses and carrier', async () => {
      await c.execute('device_add', { driver: 'xen-net-device', id: 'nic0', mac: '00:16:3e:00:00:07' });
      const guests = (await eventually(async () => {
        const g = (await c.execute('__com.vifd_query-guests'))['return'] as Row[];
        const vif = (g[0]!['vifs'] as Row[])[0];
        return vif?.['carrier'] === true && vif['backend-state'] === 'Connected' ? g : undefined;
      }, 10000, 'the guest vif to have carrier'))!;
      expect(guests.map((g) => [g['domid'], g['name']])).to.deep.equal([[1, 'web'], [2, 'guest2']]);
      expect((guests[0]!['vifs'] as Row[])[0]).to.deep.include({
        devid: 0, mac: '00:16:3e:00:00:07', address: '10.1.0.2/24', state: 'Connected', 'backend-state': 'Connected', carrier: true,
      });
      expect(guests[1]!['vifs']).to.deep.equal([]);
    });
  });

  describe('device-list-properties', () => {
    it('answers exactly as QEMU 10 does', async () => {
      for (const step of probe('device_list_properties_xen_net_device').steps) {
        const request = step.request as string;
        if (request.includes('qom-list-properties')) continue; // qom-list-properties is issue 3's
        c.send(request);
        expect(await c.nextLine()).to.equal(step.responses![0]!.raw);
      }
    });
  });

  describe('xenstore watches as events', () => {
    it('fires at once and on every change below the path, to the watching session only', async () => {
      const other = await QmpTestClient.connect(t.qmpPath);
      try {
        const path = '/local/domain/1/data';
        expect(await c.execute('__com.vifd_xenstore-watch', { path, token: 'tk' })).to.deep.equal({ return: {} });
        expect((await c.waitEvent('__com.vifd_XENSTORE_WATCH'))['data']).to.deep.equal({ path, token: 'tk' });
        await other.execute('__com.vifd_xenstore-write', { path: `${path}/x`, value: '1' });
        expect((await c.waitEvent('__com.vifd_XENSTORE_WATCH'))['data']).to.deep.equal({ path: `${path}/x`, token: 'tk' });
        await other.execute('__com.vifd_xenstore-write', { path: '/local/domain/1/name2', value: 'n' });
        await other.execute('query-version');
        expect(other.events.filter((e) => e['event'] === '__com.vifd_XENSTORE_WATCH')).to.deep.equal([]);

        const again = await c.execute('__com.vifd_xenstore-watch', { path, token: 'tk' });
        expect(again['error']).to.deep.equal({ class: 'GenericError', desc: `xenstore watch ${path} failed: EEXIST` });
        expect(await c.execute('__com.vifd_xenstore-unwatch', { path, token: 'tk' })).to.deep.equal({ return: {} });
        await other.execute('__com.vifd_xenstore-write', { path: `${path}/x`, value: '2' });
        await new Promise((r) => setTimeout(r, 50));
        expect(c.events.filter((e) => e['event'] === '__com.vifd_XENSTORE_WATCH')).to.deep.equal([]);
        const gone = await c.execute('__com.vifd_xenstore-unwatch', { path, token: 'tk' });
        expect(gone['error']).to.deep.equal({ class: 'GenericError', desc: `xenstore unwatch ${path} failed: ENOENT` });
      } finally {
        other.close();
      }
    });

    it('drops a session\'s watches when it closes', async () => {
      const w = await QmpTestClient.connect(t.qmpPath);
      await w.execute('__com.vifd_xenstore-watch', { path: '/local', token: 'a' });
      await w.execute('__com.vifd_xenstore-watch', { path: '/local', token: 'b' });
      const before = t.app.platform.xenstore.watches.countForDomain(0);
      w.close();
      await eventually(() => t.app.platform.xenstore.watches.countForDomain(0) === before - 2, 5000, 'the watches to go');
    });
  });
});
