import { expect } from 'chai';
import { Guest } from '../../src/guest/guest.js';
import { XenbusState } from '../../src/protocol/xenbus.js';
import { EmulatedPlatform } from '../../src/xen/emulated/platform.js';
import { connected, eventually, FAST, GUEST_DOMID, rig, type Rig } from './harness.js';

describe('guest: xenbus frontend and vifs', function () {
  this.timeout(10000);
  let r: Rig;

  afterEach(async () => {
    await r?.guest.stop();
  });

  it('probes a netfront for each vif directory with a backend and state 1', async () => {
    r = await rig();
    const p0 = r.peer({ devid: 0 });
    const p3 = r.peer({ devid: 3 });
    await connected(r, p0);
    await connected(r, p3);
    expect([...r.guest.vifs.keys()].sort()).to.deep.equal([0, 3]);
    const summary = r.guest.summary();
    expect(summary).to.deep.include({ domid: GUEST_DOMID, name: 'guest1', running: true });
    expect(summary.vifs.map((v) => [v.devid, v.address, v.mac, v.state, v.backendState])).to.deep.equal([
      [0, '10.1.0.2/24', p0.mac, 'Connected', 'Connected'],
      [3, '10.1.3.2/24', p3.mac, 'Connected', 'Connected'],
    ]);
  });

  it('finds devices that existed before the guest started', async () => {
    const platform = new EmulatedPlatform();
    const domain = platform.createDomain(GUEST_DOMID, 'guest1');
    const { QemuPeer } = await import('./qemu-peer.js');
    const peer = new QemuPeer(platform, domain);
    peer.create();
    const guest = new Guest(domain, platform.xenstore.connect(GUEST_DOMID), platform.channels, { netfront: FAST });
    await guest.start();
    try {
      await eventually(() => guest.vifs.get(0)?.netfront.state === XenbusState.Connected && peer.state === 4, 'connected');
    } finally {
      await guest.stop();
    }
    expect(guest.summary()).to.deep.include({ running: false, vifs: [] });
  });

  it('waits for the backend key and state 1 before probing', async () => {
    r = await rig();
    const fe = `/local/domain/${GUEST_DOMID}/device/vif/5`;
    r.platform.xs.write(`${fe}/mac`, '00:16:3e:00:00:05');
    await r.platform.xenstore.whenIdle();
    await r.guest.settled();
    expect(r.guest.vifs.has(5)).to.equal(false);
    r.platform.xs.write(`${fe}/state`, '1');
    await r.platform.xenstore.whenIdle();
    await r.guest.settled();
    expect(r.guest.vifs.has(5)).to.equal(false);
    // A backend key alone is not enough either once the state has moved on.
    r.platform.xs.write(`${fe}/state`, '6');
    r.platform.xs.write(`${fe}/backend`, '/local/domain/0/backend/qnic/1/5');
    await r.platform.xenstore.whenIdle();
    await r.guest.settled();
    expect(r.guest.vifs.has(5)).to.equal(false);
    r.platform.xs.write(`${fe}/state`, '1');
    await eventually(() => r.guest.vifs.has(5), 'probed');
  });

  it('drops the vif and everything it held when the device goes away after unplug', async () => {
    r = await rig();
    const peer = r.peer();
    await connected(r, peer);
    const nf = r.guest.vifs.get(0)!.netfront;
    peer.unplug();
    await eventually(() => peer.state === XenbusState.Closed, 'backend Closed');
    peer.destroy();
    await eventually(() => !r.guest.vifs.has(0), 'vif removed');
    await eventually(() => r.held().grants === 0, 'grants released');
    expect(r.held()).to.deep.equal({ grants: 0, pages: 0, ports: 0 });
    expect(nf.state).to.equal(XenbusState.Closed);
    // Nothing wrote the frontend directory back into existence.
    await r.platform.xenstore.whenIdle();
    expect(r.platform.xs.readString(peer.fe + '/state')).to.equal(undefined);
  });

  it('survives its device directory vanishing while connected (forced removal)', async () => {
    r = await rig();
    const peer = r.peer();
    await connected(r, peer);
    r.platform.xs.rm(peer.fe);
    await eventually(() => !r.guest.vifs.has(0), 'vif removed');
    // The backend still maps the rings: they wait on the deferred list until it lets go.
    expect(r.held().grants).to.equal(2);
    expect(r.held().ports).to.equal(0);
    peer.disconnect();
    await eventually(() => r.held().grants === 0, 'deferred grants released');
    expect(r.held()).to.deep.equal({ grants: 0, pages: 0, ports: 0 });
    expect(r.platform.xs.readString(peer.fe + '/state')).to.equal(undefined);
  });

  it('probes a device again when its directory is recreated', async () => {
    r = await rig();
    const peer = r.peer();
    await connected(r, peer);
    const first = r.guest.vifs.get(0)!.netfront;
    peer.unplug();
    await eventually(() => peer.state === XenbusState.Closed, 'backend Closed');
    peer.destroy();
    await eventually(() => !r.guest.vifs.has(0), 'vif removed');
    const again = r.peer();
    await connected(r, again);
    expect(r.guest.vifs.get(0)!.netfront).to.not.equal(first);
  });

  it('stops twice without complaint and leaves the watch callback to its owner', async () => {
    r = await rig();
    await r.guest.stop();
    await r.guest.stop();
    expect(r.xs.onWatchEvent).to.equal(null);
  });
});
