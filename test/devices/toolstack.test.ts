// Backends a toolstack creates through xenstore alone (QEMU's xen_bus_enumerate) and the hotplug-status
// handshake (netback's hotplug_status_changed): an in-process vifd, a "toolstack" that is just
// another privileged xenstore connection, and hotplug scripts written by the test.

import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel, setLogLevel, setLogSink, type LogLevel } from '../../src/common/log.js';
import { withTransaction, type XsConnection } from '../../src/xen/xenstore/index.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';

const AREA = '/local/domain/0/backend/qnic/1';
const be = (devid: number) => `${AREA}/${devid}`;
const fe = (devid: number) => `/local/domain/1/device/vif/${devid}`;

describe('toolstack-created xen-net-devices', function () {
  this.timeout(20000);
  let t: TestApp;
  let qmp: QmpTestClient;
  let toolstack: XsConnection;
  let dir: string;
  const logs: string[] = [];

  /** What libxl writes for a vif, in one transaction (§7.1), minus what a test leaves out. */
  function create(devid: number, keys: Record<string, string>): void {
    withTransaction(toolstack, (tx) => {
      for (const [k, v] of Object.entries({ 'frontend-id': '1', online: '1', state: '1', handle: String(devid), ...keys })) {
        if (v !== '-') toolstack.write(`${be(devid)}/${k}`, v, tx);
      }
    });
  }
  const read = (path: string) => toolstack.readString(path);
  const anonPaths = () => t.app.devices.list().map((d) => d.path).filter((p) => p.includes('peripheral-anon'));

  function script(name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  let levelBefore: LogLevel;
  let sinkBefore: (line: string) => void;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-toolstack-'));
    levelBefore = logLevel();
    setLogLevel('info');
    sinkBefore = setLogSink((line) => logs.push(line));
    t = await startApp(['-xenstore', `socket=${join(dir, 'xs.sock')}`]);
    qmp = await QmpTestClient.connect(t.qmpPath);
    await qmp.execute('qmp_capabilities');
    toolstack = t.app.platform.xenstore.connect(0);
  });

  afterEach(async function () {
    // A failure is explained by what vifd said meanwhile (the script's outcome, state changes).
    if (this.currentTest?.state === 'failed') process.stderr.write(`vifd's log during the test:\n${logs.join('\n')}\n`);
    toolstack.close();
    qmp.close();
    await t.stop();
    setLogSink(sinkBefore);
    setLogLevel(levelBefore);
    logs.length = 0;
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates an anonymous device for state=1 online=1 with a mac, and the guest connects', async () => {
    create(0, { mac: '00:16:3e:aa:bb:01', bridge: 'xenbr0', type: 'vif' });
    await eventually(() => read(`${be(0)}/state`) === '4' && read(`${fe(0)}/state`) === '4', 10000, 'Connected');
    expect(anonPaths()).to.deep.equal(['/machine/peripheral-anon/device[0]']);
    expect(read(`${fe(0)}/mac`)).to.equal('00:16:3e:aa:bb:01');
    expect(read(`${be(0)}/bridge`), 'toolstack keys kept').to.equal('xenbr0');
    expect(read(`${be(0)}/frontend`)).to.equal(fe(0));
    expect(read(`${be(0)}/hotplug-status`), 'not invented').to.equal(undefined);
    const qom = await qmp.execute('qom-list', { path: '/machine/peripheral-anon' });
    expect((qom['return'] as Array<{ name: string; type: string }>).find((p) => p.name === 'device[0]'))
      .to.deep.equal({ name: 'device[0]', type: 'child<xen-net-device>' });
  });

  it('refuses an entry without a mac, or with a bad one, and takes it once the mac is fixed', async () => {
    create(0, {});
    create(1, { mac: 'zz:16:3e:00:00:01' });
    await eventually(() => logs.some((l) => l.includes("failed to create 'qnic' device '1/0': no MAC address found"))
      && logs.some((l) => l.includes("failed to create 'qnic' device '1/1': failed to parse MAC address")), 5000, 'the errors');
    expect(anonPaths()).to.deep.equal([]);
    const before = logs.length;
    toolstack.write(`${AREA}/9/unrelated`, 'x');
    await t.app.platform.xenstore.whenIdle();
    expect(logs.slice(before).filter((l) => l.includes('failed to create')), 'unchanged entries are not retried').to.deep.equal([]);
    toolstack.write(`${be(0)}/mac`, '00:16:3e:aa:bb:02');
    await eventually(() => anonPaths().length === 1, 5000, 'the device');
  });

  it('refuses a duplicate of a device that exists (QMP-created at the same index)', async () => {
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic0', idx: 0 })).to.deep.equal({ return: {} });
    await eventually(() => read(`${be(0)}/state`) === '4', 10000, 'nic0 Connected');
    // The toolstack announces qnic/1/0 again (state 1, online 1) while nic0 holds it.
    toolstack.write(`${be(0)}/state`, '1');
    await t.app.platform.xenstore.whenIdle();
    await new Promise((r) => setTimeout(r, 50));
    expect(t.app.devices.list().map((d) => d.path)).to.deep.equal(['/machine/peripheral/nic0']);
    expect(t.app.bus.list()).to.have.length(1);
  });

  it('destroys the device when the toolstack writes online=0, with DEVICE_DELETED {path}', async () => {
    create(0, { mac: '00:16:3e:aa:bb:03' });
    await eventually(() => read(`${be(0)}/state`) === '4' && read(`${fe(0)}/state`) === '4', 10000, 'Connected');
    toolstack.write(`${be(0)}/online`, '0');
    const ev = await qmp.waitEvent('DEVICE_DELETED');
    expect(ev['data']).to.deep.equal({ path: '/machine/peripheral-anon/device[0]' });
    expect(read(be(0))).to.equal(undefined);
    expect(read(fe(0))).to.equal(undefined);
    expect(anonPaths()).to.deep.equal([]);
  });

  it('waits with Connected while hotplug-status is empty, and connects when it reads connected', async () => {
    create(0, { mac: '00:16:3e:aa:bb:04', 'hotplug-status': '' });
    await eventually(() => read(`${fe(0)}/state`) === '4', 10000, 'the frontend Connected');
    await new Promise((r) => setTimeout(r, 200));
    expect(read(`${be(0)}/state`)).to.equal('2');
    toolstack.write(`${be(0)}/hotplug-status`, 'connected');
    await eventually(() => read(`${be(0)}/state`) === '4', 5000, 'the backend Connected');
  });

  it('runs the script as Xen runs vif-bridge: online, vif and XENBUS_PATH, and it connects', async () => {
    const out = join(dir, 'calls');
    const s = script('vif-ok', `echo "$1 vif=$vif path=$XENBUS_PATH type=$XENBUS_TYPE" >> ${out}\n`
      + 'if [ "$1" = online ]; then xenstore-write "$XENBUS_PATH/hotplug-status" connected; fi');
    create(0, { mac: '00:16:3e:aa:bb:05', script: s, 'hotplug-status': '' });
    await eventually(() => read(`${be(0)}/state`) === '4', 10000, 'Connected after the script');
    expect(readFileSync(out, 'utf8')).to.equal('online vif=vif1.0 path=backend/qnic/1/0 type=qnic\n');
    toolstack.write(`${be(0)}/online`, '0');
    await qmp.waitEvent('DEVICE_DELETED');
    await eventually(() => readFileSync(out, 'utf8').includes('offline'), 5000, 'the offline call');
    expect(readFileSync(out, 'utf8').split('\n')[1]).to.equal('offline vif=vif1.0 path=backend/qnic/1/0 type=qnic');
  });

  it('passes add for type=vif_ioemu', async () => {
    const out = join(dir, 'calls');
    const s = script('vif-ioemu', `echo "$1" >> ${out}`);
    create(0, { mac: '00:16:3e:aa:bb:06', script: s, type: 'vif_ioemu' });
    await eventually(() => { try { return readFileSync(out, 'utf8') === 'add\n'; } catch { return false; } }, 5000, 'add');
  });

  it('leaves hotplug-status=error and hotplug-error when the script fails, and does not connect', async () => {
    const s = script('vif-broken', 'echo "bridge xenbr9 does not exist" >&2\nexit 3');
    create(0, { mac: '00:16:3e:aa:bb:07', script: s, 'hotplug-status': '' });
    await eventually(() => read(`${be(0)}/hotplug-status`) === 'error', 10000, 'hotplug-status=error');
    expect(read(`${be(0)}/hotplug-error`)).to.equal(`${s} online failed with exit status 3: bridge xenbr9 does not exist`);
    await eventually(() => read(`${fe(0)}/state`) === '4', 10000, 'the frontend Connected');
    await new Promise((r) => setTimeout(r, 200));
    expect(read(`${be(0)}/state`)).to.equal('2');
  });

  it('reports a script that cannot be run at all the same way', async () => {
    const missing = join(dir, 'no-such-script');
    create(0, { mac: '00:16:3e:aa:bb:09', script: missing, 'hotplug-status': '' });
    await eventually(() => read(`${be(0)}/hotplug-status`) === 'error', 10000, 'hotplug-status=error');
    expect(read(`${be(0)}/hotplug-error`)).to.match(new RegExp(`^${missing} online could not be run: .*ENOENT`));
  });

  it("keeps the script's own verdict when it wrote one (Xen's fatal())", async () => {
    const s = script('vif-fatal', 'xenstore-write "$XENBUS_PATH/hotplug-error" "own words" "$XENBUS_PATH/hotplug-status" error\nexit 1');
    create(0, { mac: '00:16:3e:aa:bb:08', script: s, 'hotplug-status': '' });
    await eventually(() => read(`${be(0)}/hotplug-status`) === 'error', 10000, 'hotplug-status=error');
    await new Promise((r) => setTimeout(r, 200));
    expect(read(`${be(0)}/hotplug-error`)).to.equal('own words');
  });
});
