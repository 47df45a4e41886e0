// vifd on an external xenstored (-xenstore connect=PATH): Xen's own oxenstored plays dom0's
// daemon. vifd's backends and its simulated guest live entirely in that daemon's store, Xen's
// xenstore-utils see them there, a toolstack creates and removes a vif through it, and when the
// daemon restarts vifd reconnects and keeps working.

import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetNs } from '../helpers/netns.js';
import { startOxenstored } from '../helpers/oxenstored.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { VifdProcess } from '../helpers/vifd-process.js';
import { runTool } from '../helpers/xs-wire.js';

const BE = '/local/domain/0/backend/qnic/1';
const FE = '/local/domain/1/device/vif';

describe('e2e: vifd on an external xenstored (oxenstored)', function () {
  this.timeout(90000);
  let dir: string;
  let ox: { path: string; stop: () => Promise<void> };
  let ns: NetNs;
  let vifd: VifdProcess;
  let qmp: QmpTestClient;
  const xs = (tool: string, ...args: string[]) => runTool(ox.path, `/usr/bin/xenstore-${tool}`, args);
  const read = async (path: string) => {
    const r = await xs('read', path);
    return r.code === 0 ? r.stdout.trim() : null;
  };
  const connected = async (devid: number) =>
    (await read(`${BE}/${devid}/state`)) === '4' && (await read(`${FE}/${devid}/state`)) === '4';
  const ping = (addr: string, ifname: string, local: string) => {
    ns.exec('ip', ['addr', 'add', local, 'dev', ifname]);
    ns.exec('ip', ['link', 'set', ifname, 'up']);
    return ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', addr]);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-e2e-oxs-'));
    mkdirSync(join(dir, 'ox'));
    ox = await startOxenstored(join(dir, 'ox'));
    ns = NetNs.create();
    vifd = await VifdProcess.start(ns, ['-xenstore', `connect=${ox.path}`]);
    qmp = await QmpTestClient.connect(vifd.qmpPath);
    await qmp.execute('qmp_capabilities');
  });

  after(async () => {
    qmp?.close();
    await vifd?.stop();
    ns?.destroy();
    await ox?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says which xenstored it uses, and keeps no store of its own', async () => {
    expect(vifd.stdout).to.contain(`xenstore: using xenstored at unix:${ox.path}`);
    expect(await read('/local/domain/1/name')).to.equal('guest1');
  });

  it('hotplugs over QMP into the daemon\'s store; the guest connects and answers ping', async () => {
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic0', mac: '00:16:3e:0e:00:01' }))
      .to.deep.equal({ return: {} });
    await eventually(() => connected(0), 15000, 'vif 0 Connected in oxenstored');
    expect(await read(`${BE}/0/mac`)).to.equal('00:16:3e:0e:00:01');
    expect(await read(`${FE}/0/backend`)).to.equal(`${BE}/0`);
    expect(ping('10.1.0.2', 'vif1.0', '10.1.0.1/24')).to.match(/2 packets transmitted, 2 received/);
  });

  it('creates a vif from keys a toolstack writes with xenstore-write, and removes it on online=0', async () => {
    const be = `${BE}/1`;
    const w = await xs('write', `${be}/frontend-id`, '1', `${be}/mac`, '00:16:3e:0e:00:02', `${be}/online`, '1', `${be}/state`, '1');
    expect(w.code, w.stderr).to.equal(0);
    await eventually(() => connected(1), 15000, 'vif 1 Connected');
    expect(ping('10.1.1.2', 'vif1.1', '10.1.1.1/24')).to.match(/2 packets transmitted, 2 received/);
    expect((await xs('write', `${be}/online`, '0')).code).to.equal(0);
    const ev = await qmp.waitEvent('DEVICE_DELETED', () => true, 15000);
    expect(ev['data']).to.deep.equal({ path: '/machine/peripheral-anon/device[0]' });
    expect((await xs('exists', be)).code).to.equal(1);
  });

  it('unplugs with device_del, leaving nothing in the daemon', async () => {
    expect(await qmp.execute('device_del', { id: 'nic0' })).to.deep.equal({ return: {} });
    await qmp.waitEvent('DEVICE_DELETED', (data) => data['device'] === 'nic0', 15000);
    expect((await xs('exists', `${BE}/0`)).code).to.equal(1);
    expect((await xs('exists', `${FE}/0`)).code).to.equal(1);
  });

  it('runs a backend\'s hotplug script with XENSTORED_PATH naming the daemon; it reports connected there', async () => {
    const be = `${BE}/3`;
    const script = join(dir, 'vif-setup');
    writeFileSync(script, ['#!/bin/sh', `echo "$1 $vif $XENSTORED_PATH" >> ${join(dir, 'calls')}`,
      '[ "$1" = online ] && xenstore-write "$XENBUS_PATH/hotplug-status" connected', 'exit 0', ''].join('\n'));
    chmodSync(script, 0o755);
    const w = await xs('write', `${be}/frontend-id`, '1', `${be}/mac`, '00:16:3e:0e:00:05', `${be}/script`, script,
      `${be}/hotplug-status`, '', `${be}/online`, '1', `${be}/state`, '1');
    expect(w.code, w.stderr).to.equal(0);
    await eventually(() => connected(3), 15000, 'vif 3 Connected after its script');
    expect(readFileSync(join(dir, 'calls'), 'utf8')).to.equal(`online vif1.3 ${ox.path}\n`);
    expect((await xs('write', `${be}/online`, '0')).code).to.equal(0);
    await qmp.waitEvent('DEVICE_DELETED', () => true, 15000);
  });

  it('answers QMP while the daemon is down, refuses device_add with a clear error, and recovers', async () => {
    await ox.stop();
    const reply = await qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic2', mac: '00:16:3e:0e:00:03' });
    expect(reply).to.have.nested.property('error.class', 'GenericError');
    expect((reply as { error: { desc: string } }).error.desc).to.contain('xenstored');
    expect(await qmp.execute('query-status')).to.have.nested.property('return.status');
    const peripherals = await qmp.execute('qom-list', { path: '/machine/peripheral' }) as { return: Array<{ name: string }> };
    expect(peripherals.return.map((p) => p.name)).to.not.include('nic2');

    // A restarted daemon starts empty: vifd reconnects and its watches work again.
    ox = await startOxenstored(join(dir, 'ox'));
    const be = `${BE}/2`;
    await eventually(async () => {
      const w = await xs('write', `${be}/frontend-id`, '1', `${be}/mac`, '00:16:3e:0e:00:04', `${be}/online`, '1', `${be}/state`, '1');
      return w.code === 0;
    }, 10000, 'the restarted daemon');
    await eventually(() => connected(2), 20000, 'a toolstack vif Connected after the restart');
    expect(vifd.stderr).to.match(/reconnecting/);
    expect(vifd.exitCode).to.equal(null);
  });
});

describe('e2e: -xenstore connect= to nothing', () => {
  it('exits 1 with one line naming the path', async function () {
    this.timeout(20000);
    const ns = NetNs.create();
    try {
      const missing = join(tmpdir(), `vifd-no-xenstored-${process.pid}.sock`);
      let err: Error | undefined;
      try {
        await VifdProcess.start(ns, ['-xenstore', `connect=${missing}`]);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.match(new RegExp(`vifd exited with 1: vifd: .*${missing.replace(/\./g, '\\.')}.*\\n$`));
    } finally {
      ns.destroy();
    }
  });
});
