// Tap netdevs for real, with vifd run as a user runs it inside a network namespace: the oracle's
// netns_tap_lifecycle replayed byte for byte, up/down scripts, vnet_hdr, -netdev, and set_link
// as the kernel sees it (NO-CARRIER, pings lost) and as the guest sees it.

import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetNs } from '../helpers/netns.js';
import { probe } from '../helpers/oracle.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { VifdProcess } from '../helpers/vifd-process.js';

/** QEMU's event timestamps vary; the oracle writes them as <int>. */
function normalise(line: string): string {
  return line.replace(/"seconds": \d+, "microseconds": \d+/, '"seconds": <int>, "microseconds": <int>');
}

describe('e2e: tap netdevs in a network namespace', function () {
  this.timeout(60000);
  let ns: NetNs;
  let vifd: VifdProcess;
  let qmp: QmpTestClient;
  let dir: string;

  beforeEach(() => {
    ns = NetNs.create();
    dir = mkdtempSync(join(tmpdir(), 'vifd-tap-'));
  });

  afterEach(async () => {
    qmp?.close();
    await vifd?.stop();
    ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('replays the oracle probe netns_tap_lifecycle with QEMU 10\'s exact lines, and leaves no link behind', async () => {
    vifd = await VifdProcess.start(ns);
    qmp = await QmpTestClient.connect(vifd.qmpPath);
    const p = probe('netns_tap_lifecycle');
    for (const step of p.steps) {
      qmp.send(step.request as string);
      const want = step.responses!.map((r) => r.raw!);
      const got: string[] = [];
      for (const w of want) {
        if (w.includes('"event"')) {
          const ev = await qmp.waitEvent('SHUTDOWN');
          got.push(normalise(`${JSON.stringify(ev).replace(/":/g, '": ').replace(/,"/g, ', "')}\r\n`));
        } else {
          got.push(await qmp.nextLine());
        }
      }
      expect(got, step.request as string).to.deep.equal(want);
      if ((step.request as string).includes('"id": 3')) expect(ns.hasLink('xxxxxxxxxxxxxxx')).to.equal(true);
      if ((step.request as string).includes('"id": 4')) expect(ns.hasLink('qmptap2')).to.equal(false);
      if ((step.request as string).includes('"id": 7')) expect(ns.hasLink('qmptap0')).to.equal(false);
    }
    expect(await vifd.wait()).to.equal(0);
    expect(ns.exec('ip', ['-o', 'link', 'show']).trim().split('\n')).to.have.length(1); // only lo
  });

  it('runs script and downscript with the interface name, and takes -netdev from the command line', async () => {
    const up = join(dir, 'ifup.sh');
    const down = join(dir, 'ifdown.sh');
    writeFileSync(up, `#!/bin/sh\necho "up $1" >> ${dir}/log\nip link set "$1" up\n`);
    writeFileSync(down, `#!/bin/sh\necho "down $1" >> ${dir}/log\n`);
    chmodSync(up, 0o755);
    chmodSync(down, 0o755);
    vifd = await VifdProcess.start(ns, ['-netdev', 'tap,id=c0,ifname=clitap0,script=no,downscript=no']);
    qmp = await QmpTestClient.connect(vifd.qmpPath);
    expect(ns.hasLink('clitap0')).to.equal(true);
    expect(await qmp.execute('netdev_add', { type: 'tap', id: 's0', ifname: 'scripted0', script: up, downscript: down }))
      .to.deep.equal({ return: {} });
    expect(readFileSync(join(dir, 'log'), 'utf8')).to.equal('up scripted0\n');
    const r = await qmp.execute('human-monitor-command', { 'command-line': 'info network' });
    expect(r['return']).to.equal('c0: index=0,type=tap,ifname=clitap0,script=no,downscript=no\r\n' +
      `s0: index=0,type=tap,ifname=scripted0,script=${up},downscript=${down}\r\n`);
    expect(await qmp.execute('netdev_del', { id: 's0' })).to.deep.equal({ return: {} });
    expect(readFileSync(join(dir, 'log'), 'utf8')).to.equal('up scripted0\ndown scripted0\n');
  });

  for (const vnetHdr of [false, true]) {
    it(`pings the guest through a netdev tap${vnetHdr ? ' opened with vnet_hdr' : ''}; set_link cuts it off and the kernel sees NO-CARRIER`, async () => {
      vifd = await VifdProcess.start(ns);
      qmp = await QmpTestClient.connect(vifd.qmpPath);
      expect(await qmp.execute('netdev_add', { type: 'tap', id: 't5', ifname: 'vtap5', script: 'no', downscript: 'no', vnet_hdr: vnetHdr }))
        .to.deep.equal({ return: {} });
      expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic5', netdev: 't5' })).to.deep.equal({ return: {} });
      const fe = '/local/domain/1/device/vif/0/state';
      await eventually(async () => (await qmp.execute('__com.vifd_xenstore-read', { path: fe }))['return'] === '4', 10000, 'connected');
      ns.exec('ip', ['addr', 'add', '10.1.0.1/24', 'dev', 'vtap5']);
      ns.exec('ip', ['link', 'set', 'vtap5', 'up']);
      expect(ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.1.0.2'])).to.match(/2 packets transmitted, 2 received/);

      expect(await qmp.execute('set_link', { name: 'nic5', up: false })).to.deep.equal({ return: {} });
      expect(ns.exec('ip', ['link', 'show', 'vtap5'])).to.contain('NO-CARRIER');
      expect((await qmp.execute('__com.vifd_xenstore-read', { path: '/local/domain/0/backend/qnic/1/0/link-state' }))['return']).to.equal('0');
      ns.exec('ip', ['neigh', 'flush', 'dev', 'vtap5']);
      expect(ns.tryExec('ping', ['-c', '2', '-i', '0.2', '-W', '1', '10.1.0.2']).ok).to.equal(false);

      expect(await qmp.execute('set_link', { name: 'nic5', up: true })).to.deep.equal({ return: {} });
      expect(ns.exec('ip', ['link', 'show', 'vtap5'])).to.not.contain('NO-CARRIER');
      await eventually(() => ns.tryExec('ping', ['-c', '1', '-W', '1', '10.1.0.2']).ok, 10000, 'ping after link up');
    });
  }
});
