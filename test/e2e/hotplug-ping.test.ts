// The whole path, as a user drives it: vifd started in a namespace, a NIC hot-plugged over the
// QMP socket, the guest's netfront connecting, the kernel pinging the guest through the tap,
// and the unplug cleaning everything up.

import { expect } from 'chai';
import { NetNs } from '../helpers/netns.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { VifdProcess } from '../helpers/vifd-process.js';

const BE = '/local/domain/0/backend/qnic/1/0';
const FE = '/local/domain/1/device/vif/0';

describe('e2e: hotplug a Xen PV NIC and ping the guest through its tap', function () {
  this.timeout(60000);
  let ns: NetNs;
  let vifd: VifdProcess;
  let qmp: QmpTestClient;

  before(async () => {
    ns = NetNs.create();
    vifd = await VifdProcess.start(ns);
    qmp = await QmpTestClient.connect(vifd.qmpPath);
  });

  after(async () => {
    qmp?.close();
    await vifd?.stop();
    ns?.destroy();
  });

  async function xsRead(path: string): Promise<unknown> {
    const r = await qmp.execute('__com.vifd_xenstore-read', { path });
    return r['return'] ?? r['error'];
  }

  it('greets like QEMU 10 and negotiates', () => {
    const v = (qmp.greeting['QMP'] as { version: { qemu: Record<string, number> }; capabilities: string[] });
    expect(v.version.qemu).to.deep.equal({ micro: 2, minor: 0, major: 10 });
    expect(v.capabilities).to.deep.equal(['oob']);
  });

  it('answers device_add with {} and the guest connects (backend and frontend state 4)', async () => {
    const r = await qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic0', mac: '00:16:3e:00:00:01' });
    expect(r).to.deep.equal({ return: {} });
    await eventually(async () => (await xsRead(`${BE}/state`)) === '4' && (await xsRead(`${FE}/state`)) === '4',
      10000, 'backend and frontend Connected');
    expect(await xsRead(`${FE}/mac`)).to.equal('00:16:3e:00:00:01');
    expect(await xsRead(`${BE}/feature-rx-copy`)).to.equal('1');
    expect(ns.hasLink('vif1.0')).to.equal(true);
  });

  it('lets the namespace ping the guest at 10.1.0.2 through vif1.0', () => {
    ns.exec('ip', ['addr', 'add', '10.1.0.1/24', 'dev', 'vif1.0']);
    ns.exec('ip', ['link', 'set', 'vif1.0', 'up']);
    const out = ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.1.0.2']);
    expect(out).to.match(/3 packets transmitted, 3 received/);
  });

  it('unplugs with device_del: {} at once, then DEVICE_DELETED, and leaves nothing behind', async () => {
    expect(await qmp.execute('device_del', { id: 'nic0' })).to.deep.equal({ return: {} });
    const ev = await qmp.waitEvent('DEVICE_DELETED');
    expect(ev['data']).to.deep.equal({ device: 'nic0', path: '/machine/peripheral/nic0' });
    expect(ns.hasLink('vif1.0')).to.equal(false);
    for (const dir of [BE, FE]) {
      expect(await xsRead(dir)).to.deep.equal({ class: 'GenericError', desc: `xenstore read ${dir} failed: ENOENT` });
    }
    // Their parents stay, empty, as QEMU 10's xen-bus leaves them (seen on a real Xen 4.17).
    expect((await qmp.execute('__com.vifd_xenstore-directory', { path: '/local/domain/0/backend/qnic/1' }))['return'])
      .to.deep.equal([]);
    expect((await qmp.execute('__com.vifd_xenstore-directory', { path: '/local/domain/1/device/vif' }))['return'])
      .to.deep.equal([]);
  });

  it('quits with SHUTDOWN, then the reply, then the process exits 0', async () => {
    qmp.send('{"execute":"quit","id":"bye"}');
    const ev = await qmp.waitEvent('SHUTDOWN');
    expect(ev['data']).to.deep.equal({ guest: false, reason: 'host-qmp-quit' });
    expect(JSON.parse(await qmp.nextLine())).to.deep.equal({ return: {}, id: 'bye' });
    expect(await vifd.wait()).to.equal(0);
  });
});
