// The datapath on a thread of its own (-datapath thread=on, QEMU's iothread): the rings and
// the tap I/O run off the main thread, which is shown by blocking the main thread (where the
// guest runs) while the namespace pings: the datapath thread goes on placing frames in the
// guest's rx ring, the main-thread datapath cannot. And the same traffic as elsewhere, with the
// same results: TCP on two queues with GSO every byte verified, a hostile guest disabling only
// its own vif, a capture tshark reads, a burst the tap holds back instead of dropping; through
// the command line too, with the unplug leaving nothing behind.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATAPATH_THREAD_ENV } from '../fixtures/netns-app.js';
import { type FixtureSteps, runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { VifdProcess } from '../helpers/vifd-process.js';

const MiB = 1024 * 1024;

describe('e2e: the datapath on its own thread', function () {
  this.timeout(120000);
  let ns: NetNs;
  let dir: string;

  before(() => {
    ns = NetNs.create();
    dir = mkdtempSync(join(tmpdir(), 'vifd-dp-thread-'));
  });
  after(() => {
    ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const steps = (name: string, args: Array<string | number>, thread = true): FixtureSteps =>
    runFixtureSteps(ns, name, args, { timeoutMs: 100000, env: { [DATAPATH_THREAD_ENV]: thread ? '1' : '0' } });

  it('keeps placing frames for the guest while the main thread is blocked; a main-thread datapath does not', () => {
    const threaded = steps('datapath-thread', ['thread']);
    threaded.expect('see where the datapath ran').to.equal(true);
    threaded.expect('ping the guest').to.equal(5);
    threaded.expect('block the main thread during a ping flood').to.be.greaterThan(5);
    const main = steps('datapath-thread', ['main']);
    main.expect('see where the datapath ran').to.equal(false);
    main.expect('ping the guest').to.equal(5);
    main.expect('block the main thread during a ping flood').to.equal(0);
  });

  it('reports the datapath thread\'s counters and rings over QMP, and kicks them', () => {
    const r = steps('datapath-thread', ['thread']);
    // Counters written on the datapath thread, read on the main thread through shared memory.
    r.expect('query the vifs', 'stats', 'rx-packets')
      .to.be.within(...r.value('query the vifs')['backendRxPackets'] as [number, number]).and.greaterThan(100);
    r.expect('query the vifs', 'stats', 'tx-packets').to.be.greaterThan(100);
    r.expect('query nic0\'s ring', 'ringQueues').to.equal(1);
    r.expect('query nic0\'s ring', 'rxRspProd').to.be.within(...r.value('query nic0\'s ring')['guestRxRspProd'] as [number, number]);
    r.expect('kick nic0').to.deep.equal({ kicked: true });
  });

  it('moves four TCP flows each way over two queues with GSO, every byte verified', () => {
    const r = steps('guest-tcp-mq', [2, 4, MiB, 44000]);
    (r.value('check what the guest received') as unknown[]).forEach((_, i) =>
      r.expect('check what the guest received', i).to.deep.equal({ received: MiB, hashMatches: true, closed: null }));
    r.expect('check what the namespace received').to.deep.equal(Array(4).fill({ received: MiB, identical: true }));
    r.expect('read the counters', 'resets').to.equal(0);
    r.expect('read the counters', 'netfront', 'txGso').to.be.greaterThan(0);
    r.expect('read the counters', 'netfront', 'rxGso').to.be.greaterThan(0);
    (r.value('query the queues')['queues'] as unknown[]).forEach((_, i) => {
      r.expect('query the queues', 'queues', i, 'txResponses').to.be.greaterThan(100);
      r.expect('query the queues', 'queues', i, 'rxResponses').to.be.greaterThan(100);
    });
  });

  it('disables only the hostile guest\'s vif; the other one passes every ping', () => {
    const r = steps('hostile-guest', []);
    r.expect('read bad\'s backend', 'disabled').to.equal('Invalid extra type: 7');
    r.expect('send bad an invalid extra type')
      .to.deep.equal({ device: 'bad', path: '/machine/peripheral/bad', vif: 'vif1.0', reason: 'Invalid extra type: 7' });
    r.expect('read bad\'s error node').to.equal('22 fatal error; disabling device: Invalid extra type: 7');
    r.expect('read the taps\' carriers', 'bad').to.equal('0');
    r.expect('kick bad').to.deep.equal({ kicked: false });
    r.expect('ping good from the namespace throughout').to.deep.equal([200, 200]);
  });

  it('captures to a pcap file that tshark reads', () => {
    const file = join(dir, 'nic0.pcap');
    const r = steps('vif-capture', [file]);
    r.expect('capture into a missing directory', 'error', 'desc').to.match(/^Could not open capture file '.*no\/such\/dir\.pcap': ENOENT/);
    const lines = execFileSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.number', '-e', 'icmp.type'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').filter(Boolean).map((l) => l.split(',')[1]);
    expect(lines.filter((t) => t === '8')).to.have.length(3);
    expect(lines.filter((t) => t === '0')).to.have.length(3);
    r.expect('stop capturing', 'return').to.deep.equal({ frames: lines.length });
  });

  it('holds an 800-frame burst back in the tap rather than dropping it', () => {
    const r = steps('rx-burst', [800]);
    r.expect('send 800 datagrams to the quiet guest').to.include({ stopped: true });
    r.expect('wake the guest', 'received').to.equal(800);
    r.expect('wake the guest', 'backendRxDropped').to.equal(0);
  });

  it('runs with -datapath thread=on from the command line: hotplug, ping, unplug leaving nothing', async () => {
    const vifd = await VifdProcess.start(ns, ['-datapath', 'thread=on']);
    const qmp = await QmpTestClient.connect(vifd.qmpPath);
    try {
      expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic9', idx: 9 })).to.deep.equal({ return: {} });
      await eventually(async () => ns.hasLink('vif1.9') &&
        (await qmp.execute('__com.vifd_xenstore-read', { path: '/local/domain/0/backend/qnic/1/9/state' }))['return'] === '4',
      10000, 'vif1.9 connected');
      expect(vifd.stderr).to.include('rings and tap I/O on datapath thread datapath0');
      ns.exec('ip', ['addr', 'add', '10.1.9.1/24', 'dev', 'vif1.9']);
      ns.exec('ip', ['link', 'set', 'vif1.9', 'up']);
      expect(ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.1.9.2'])).to.match(/3 packets transmitted, 3 received/);
      expect(await qmp.execute('device_del', { id: 'nic9' })).to.deep.equal({ return: {} });
      await qmp.waitEvent('DEVICE_DELETED');
      expect(ns.hasLink('vif1.9')).to.equal(false);
    } finally {
      qmp.close();
      await vifd.stop();
    }
  });
});
