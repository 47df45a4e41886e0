// device_add / device_del over a real QMP socket: idx allocation, QEMU's error texts for bad
// input, and that a refused device_add leaves nothing behind.

import { expect } from 'chai';
import { directoryOrEmpty } from '../../src/xen/xenstore/index.js';
import { useAppWithClient } from '../helpers/app.js';
import { eventually } from '../helpers/qmp-client.js';

describe('device_add and device_del', () => {
  const s = useAppWithClient();

  const vifs = () => directoryOrEmpty(s.t.app.platform.xs, '/local/domain/1/device/vif').map(Number).sort();
  const backends = () => directoryOrEmpty(s.t.app.platform.xs, '/local/domain/0/backend/qnic/1').map(Number).sort();
  const add = (args: Record<string, unknown>) => s.qmp.execute('device_add', { driver: 'xen-net-device', ...args });
  const err = (desc: string) => ({ error: { class: 'GenericError', desc } });

  describe('idx allocation', () => {
    it('gives three NICs without idx the indices 0, 1 and 2', async () => {
      for (const id of ['a', 'b', 'c']) expect(await add({ id })).to.deep.equal({ return: {} });
      expect(vifs()).to.deep.equal([0, 1, 2]);
      expect(backends()).to.deep.equal([0, 1, 2]);
    });

    it('reuses index 1 once vif 1 is deleted', async () => {
      for (const id of ['a', 'b', 'c']) await add({ id });
      await eventually(() => s.t.app.bus.list().every((d) => d.backendState === 4 && d.frontendState === 4), 5000, 'all connected');
      await s.qmp.execute('device_del', { id: 'b' });
      await s.qmp.waitEvent('DEVICE_DELETED', (d) => d['device'] === 'b');
      expect(vifs()).to.deep.equal([0, 2]);
      expect(await add({ id: 'd' })).to.deep.equal({ return: {} });
      expect(vifs()).to.deep.equal([0, 1, 2]);
      expect((await s.qmp.execute('__com.vifd_xenstore-read', { path: '/local/domain/1/device/vif/1/backend' }))['return'])
        .to.equal('/local/domain/0/backend/qnic/1/1');
    });

    it('refuses idx=1 while vif 1 exists, and creates nothing', async () => {
      await add({ id: 'a' });
      await add({ id: 'b' });
      expect(await add({ id: 'c', idx: 1 })).to.deep.equal(err('vif 1 of domain 1 already exists'));
      expect(vifs()).to.deep.equal([0, 1]);
      expect(s.t.app.devices.find('c')).to.equal(undefined);
    });

    it('honours an explicit free idx', async () => {
      expect(await add({ id: 'a', idx: 7 })).to.deep.equal({ return: {} });
      expect(vifs()).to.deep.equal([7]);
    });
  });

  describe('bad input gets a QEMU-style error, the server stays up and nothing half-made remains', () => {
    const cases: Array<[string, Record<string, unknown>, unknown]> = [
      ['mac=zz', { driver: 'xen-net-device', id: 'n', mac: 'zz' }, err("Property 'xen-net-device.mac' doesn't take value 'zz'")],
      ['a 5-byte mac', { driver: 'xen-net-device', id: 'n', mac: '52:54:00:12:34:5' },
        err("Property 'xen-net-device.mac' doesn't take value '52:54:00:12:34:5'")],
      ['idx=-5', { driver: 'xen-net-device', id: 'n', idx: -5 },
        err("Property xen-net-device.idx doesn't take value -5 (minimum: -1, maximum: 65535)")],
      ['idx="x"', { driver: 'xen-net-device', id: 'n', idx: 'x' }, err("Invalid parameter type for 'idx', expected: integer")],
      ['idx=1.5', { driver: 'xen-net-device', id: 'n', idx: 1.5 }, err("Invalid parameter type for 'idx', expected: integer")],
      ['idx beyond int32', { driver: 'xen-net-device', id: 'n', idx: 1099511627776 }, err("Parameter 'idx' expects int32_t")],
      ['mac=123', { driver: 'xen-net-device', id: 'n', mac: 123 }, err("Invalid parameter type for 'mac', expected: string")],
      ['an unknown property', { driver: 'xen-net-device', id: 'n', foo: 1 }, err("Property 'xen-net-device.foo' not found")],
      ['an unknown driver', { driver: 'no-such-device', id: 'n' }, err("'no-such-device' is not a valid device model name")],
      ['an abstract driver', { driver: 'xen-device', id: 'n' }, err("Parameter 'driver' expects a non-abstract device type")],
      ['no driver', { id: 'n' }, err("Parameter 'driver' is missing")],
      ['a non-string driver', { driver: 7 }, err("Parameter 'driver' is missing")],
      ['an unknown bus', { driver: 'xen-net-device', bus: 'nosuch', id: 'n' }, err("Bus 'nosuch' not found")],
      ['a malformed id', { driver: 'xen-net-device', id: 'bad id' }, err("Parameter 'id' expects an identifier")],
      ['a non-string id', { driver: 'xen-net-device', id: 5 }, err("Invalid parameter type for 'id', expected: string")],
      ['an unknown netdev', { driver: 'xen-net-device', id: 'n', netdev: 'nosuch' },
        err("Property 'xen-net-device.netdev' can't find value 'nosuch'")],
      ['an unknown guest', { driver: 'xen-net-device', id: 'n', 'frontend-id': 9 }, err('frontend-id 9: no such guest domain')],
    ];
    for (const [what, args, expected] of cases) {
      it(`answers ${what}`, async () => {
        const r = await s.qmp.execute('device_add', args, 'x');
        expect(r).to.deep.equal({ id: 'x', ...(expected as object) });
        expect(backends()).to.deep.equal([]);
        expect(vifs()).to.deep.equal([]);
        expect(await s.qmp.execute('query-version')).to.have.property('return');
      });
    }

    it('answers a duplicate id and keeps the first device', async () => {
      expect(await add({ id: 'nic0' })).to.deep.equal({ return: {} });
      expect(await add({ id: 'nic0' })).to.deep.equal(err("Duplicate device ID 'nic0'"));
      expect(vifs()).to.deep.equal([0]);
    });

    it('accepts 52-54-00 style and upper-case MACs and writes them lower case with colons', async () => {
      expect(await add({ id: 'm', mac: '52-54-00-AB-CD-EF' })).to.deep.equal({ return: {} });
      expect(s.t.app.platform.xs.read('/local/domain/1/device/vif/0/mac').toString()).to.equal('52:54:00:ab:cd:ef');
    });
  });

  describe('device_del', () => {
    it('answers an unknown id with DeviceNotFound', async () => {
      expect(await s.qmp.execute('device_del', { id: 'nope' }))
        .to.deep.equal({ error: { class: 'DeviceNotFound', desc: "Device 'nope' not found" } });
    });

    it('answers a container path as not a device', async () => {
      expect(await s.qmp.execute('device_del', { id: '/machine' })).to.deep.equal(err('/machine is not a device'));
    });

    it('refuses a second device_del while the first is pending, then completes', async () => {
      await add({ id: 'nic1' });
      await eventually(() => s.t.app.bus.list()[0]?.frontendState === 4, 5000, 'frontend connected');
      s.qmp.send('{"execute":"device_del","arguments":{"id":"nic1"}}{"execute":"device_del","arguments":{"id":"nic1"}}');
      expect(JSON.parse(await s.qmp.nextLine())).to.deep.equal({ return: {} });
      expect(JSON.parse(await s.qmp.nextLine())).to.deep.equal(err('Device nic1 is already in the process of unplug'));
      const ev = await s.qmp.waitEvent('DEVICE_DELETED');
      expect(ev['data']).to.deep.equal({ device: 'nic1', path: '/machine/peripheral/nic1' });
    });

    it('finds a device by its QOM path', async () => {
      await add({ id: 'p' });
      expect(await s.qmp.execute('device_del', { id: '/machine/peripheral/p' })).to.deep.equal({ return: {} });
      await s.qmp.waitEvent('DEVICE_DELETED', (d) => d['device'] === 'p');
    });
  });
});
