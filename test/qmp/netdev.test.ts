// netdev_add / netdev_del over a real QMP socket: QEMU 10's reply lines for bad parameters
// (replayed byte for byte from the oracle), the hubport lifecycle the oracle shows for `user`,
// and -netdev taking the same types through the same checks.

import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VifdApp } from '../../src/cli/app.js';
import { parseCommandLine } from '../../src/cli/options.js';
import { probe, stepWrites } from '../helpers/oracle.js';
import { startApp, useAppWithClient } from '../helpers/app.js';

describe('netdev_add and netdev_del', () => {
  const s = useAppWithClient();

  const err = (desc: string, cls = 'GenericError') => ({ error: { class: cls, desc } });

  it('answers every step of the oracle probe netdev_add_tap_bad_params with QEMU 10\'s exact line', async () => {
    const p = probe('netdev_add_tap_bad_params');
    expect(p.steps).to.have.length(10);
    for (const step of p.steps) {
      for (const bytes of stepWrites(p.name, step)) s.qmp.send(bytes);
      expect(await s.qmp.nextLine()).to.equal(step.responses![0]!.raw);
    }
  });

  it('replays the oracle\'s user-netdev lifecycle with a hubport (user is not compiled in)', async () => {
    const p = probe('netdev_user_lifecycle_and_set_link');
    for (const [i, step] of p.steps.entries()) {
      const request = (step.request as string).replace('"type": "user", "id": "u0"', '"type": "hubport", "id": "u0", "hubid": 0');
      s.qmp.send(request);
      const want = i === 4
        ? '{"return": "hub 0\\r\\n \\\\ u0: index=0,type=hubport,hubid=0\\r\\n", "id": 5}\r\n'
        : step.responses![0]!.raw;
      expect(await s.qmp.nextLine(), request).to.equal(want);
    }
  });

  it('refuses QEMU netdev types vifd does not have, and nic, with QEMU\'s texts', async () => {
    expect(await s.qmp.execute('netdev_add', { type: 'user', id: 'u0' }))
      .to.deep.equal(err("network backend 'user' is not compiled into this binary"));
    expect(await s.qmp.execute('netdev_add', { type: 'nic', id: 'n0' }))
      .to.deep.equal(err("Parameter 'type' expects a netdev backend type"));
    expect(await s.qmp.execute('netdev_add', { type: 7, id: 'n0' }))
      .to.deep.equal(err("Invalid parameter type for 'type', expected: string"));
    expect(s.t.app.netdevs.list()).to.deep.equal([]);
  });

  it('checks hubport, dgram and stream members in QEMU\'s order', async () => {
    expect(await s.qmp.execute('netdev_add', { type: 'hubport', id: 'h0' })).to.deep.equal(err("Parameter 'hubid' is missing"));
    expect(await s.qmp.execute('netdev_add', { type: 'hubport', id: 'h0', hubid: 'x' }))
      .to.deep.equal(err("Invalid parameter type for 'hubid', expected: integer"));
    expect(await s.qmp.execute('netdev_add', { type: 'stream', id: 's0' })).to.deep.equal(err("Parameter 'addr' is missing"));
    expect(await s.qmp.execute('netdev_add', { type: 'stream', id: 's0', addr: { type: 'tcp' } }))
      .to.deep.equal(err("Parameter 'addr.type' does not accept value 'tcp'"));
    expect(await s.qmp.execute('netdev_add', { type: 'stream', id: 's0', addr: { type: 'inet', host: 'localhost' } }))
      .to.deep.equal(err("Parameter 'addr.port' is missing"));
    expect(await s.qmp.execute('netdev_add', { type: 'stream', id: 's0', addr: { type: 'unix', path: '/x', host: 'h' } }))
      .to.deep.equal(err("Parameter 'addr.host' is unexpected"));
    expect(await s.qmp.execute('netdev_add', { type: 'dgram', id: 'd0' }))
      .to.deep.equal(err('dgram requires one of remote or local parameter'));
    expect(await s.qmp.execute('netdev_add', { type: 'dgram', id: 'd0', remote: { type: 'unix', path: '/x' }, local: { type: 'inet', host: 'a', port: '1' } }))
      .to.deep.equal(err('local and remote address types must be the same'));
    expect(s.t.app.netdevs.list()).to.deep.equal([]);
  });

  it('lets a device take a hubport netdev once, and frees it when the device goes', async () => {
    expect(await s.qmp.execute('netdev_add', { type: 'hubport', id: 'h0', hubid: 1 })).to.deep.equal({ return: {} });
    expect(await s.qmp.execute('device_add', { driver: 'xen-net-device', id: 'a', netdev: 'h0' })).to.deep.equal({ return: {} });
    expect(await s.qmp.execute('device_add', { driver: 'xen-net-device', id: 'b', netdev: 'h0' }))
      .to.deep.equal(err("Property 'xen-net-device.netdev' can't take value 'h0', it's in use"));
    expect(s.t.app.netdevs.ownerOf('h0')).to.equal('a');
    await s.qmp.execute('device_del', { id: 'a' });
    await s.qmp.waitEvent('DEVICE_DELETED');
    expect(s.t.app.netdevs.ownerOf('h0')).to.equal(null);
    expect(await s.qmp.execute('device_add', { driver: 'xen-net-device', id: 'b', netdev: 'h0' })).to.deep.equal({ return: {} });
  });

  it('removes a netdev with netdev_del and says DeviceNotFound the second time', async () => {
    await s.qmp.execute('netdev_add', { type: 'hubport', id: 'h0', hubid: 0 });
    expect(await s.qmp.execute('netdev_del', { id: 'h0' })).to.deep.equal({ return: {} });
    expect(s.t.app.netdevs.hubs.list()).to.deep.equal([]);
    expect(await s.qmp.execute('netdev_del', { id: 'h0' })).to.deep.equal(err("Device 'h0' not found", 'DeviceNotFound'));
    expect(await s.qmp.execute('netdev_del', {})).to.deep.equal(err("Parameter 'id' is missing"));
  });
});

describe('-netdev takes the same types as netdev_add', () => {
  it('creates hubports and a device on one from the command line', async () => {
    const t = await startApp(['-netdev', 'hubport,id=h0,hubid=3', '-device', 'xen-net-device,id=n0,netdev=h0']);
    try {
      expect(t.app.netdevs.list().map((n) => [n.id, n.client.type, n.owner])).to.deep.equal([['h0', 'hubport', 'n0']]);
    } finally {
      await t.stop();
    }
  });

  it('types values by the schema (server=on, nested addr.*) and refuses bad ones with netdev_add\'s text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vifd-netdev-'));
    const t = await startApp(['-netdev', `stream,id=s0,server=on,addr.type=unix,addr.path=${dir}/s.sock`]);
    try {
      expect(t.app.netdevs.get('s0')!.describe()).to.equal('listening');
    } finally {
      await t.stop();
    }
    let exited: () => void = () => {};
    const gone = new Promise<void>((r) => { exited = r; });
    const app = new VifdApp(parseCommandLine(['-qmp', `unix:${dir}/q.sock,server=on,wait=off`, '-netdev', 'hubport,id=h0,hubid=one']),
      { createTap: () => null, onExit: () => exited() });
    let failure: unknown;
    try {
      await app.start();
    } catch (e) {
      failure = e;
    }
    app.shutdown('host-signal');
    await gone;
    rmSync(dir, { recursive: true, force: true });
    expect((failure as Error).message).to.equal("-netdev hubport: Invalid parameter type for 'hubid', expected: integer");
  });
});
