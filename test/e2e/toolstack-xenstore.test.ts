// The toolstack scenario with xenstore-write alone (as QEMU's xen_bus_enumerate serves it): vifd runs in a namespace and
// serves its xenstore on a socket; Xen's xenstore-write creates a qnic backend, the guest's
// netfront connects, the namespace pings the guest through the tap, and `online`=0 written the
// same way removes the device, with DEVICE_DELETED on QMP. Then libxl's way with a hotplug
// script: `hotplug-status` empty, and a vif-bridge-like script that configures the tap itself
// and reports `connected` through the same socket.

import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetNs } from '../helpers/netns.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { VifdProcess } from '../helpers/vifd-process.js';
import { runTool } from '../helpers/xs-wire.js';

const BE = '/local/domain/0/backend/qnic/1/0';
const FE = '/local/domain/1/device/vif/0';

describe('e2e: a toolstack creates and removes a vif with xenstore-write alone', function () {
  this.timeout(60000);
  let ns: NetNs;
  let vifd: VifdProcess;
  let qmp: QmpTestClient;
  let dir: string;
  let sock: string;
  const xs = (tool: string, ...args: string[]) => runTool(sock, `/usr/bin/xenstore-${tool}`, args);
  const read = async (path: string) => {
    const r = await xs('read', path);
    return r.code === 0 ? r.stdout.trim() : null;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-e2e-xs-'));
    sock = join(dir, 'xenstored.sock');
    ns = NetNs.create();
    vifd = await VifdProcess.start(ns, ['-xenstore', `socket=${sock}`]);
    qmp = await QmpTestClient.connect(vifd.qmpPath);
    await qmp.execute('qmp_capabilities');
  });

  after(async () => {
    qmp?.close();
    await vifd?.stop();
    ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints where the xenstore socket is', () => {
    expect(vifd.stdout).to.contain(`xenstore: unix:${sock}`);
  });

  it('creates the vif from the keys a toolstack writes, and the guest connects', async () => {
    const w = await xs('write', `${BE}/frontend-id`, '1', `${BE}/mac`, '00:16:3e:5e:ed:04', `${BE}/online`, '1', `${BE}/state`, '1');
    expect(w.code, w.stderr).to.equal(0);
    await eventually(async () => (await read(`${BE}/state`)) === '4' && (await read(`${FE}/state`)) === '4', 15000,
      'backend and frontend Connected');
    expect(await read(`${FE}/mac`)).to.equal('00:16:3e:5e:ed:04');
    expect(ns.hasLink('vif1.0')).to.equal(true);
  });

  it('lets the namespace ping the guest at 10.1.0.2 through vif1.0', () => {
    ns.exec('ip', ['addr', 'add', '10.1.0.1/24', 'dev', 'vif1.0']);
    ns.exec('ip', ['link', 'set', 'vif1.0', 'up']);
    expect(ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.1.0.2'])).to.match(/3 packets transmitted, 3 received/);
  });

  it('removes it on online=0: DEVICE_DELETED with its anonymous path, tap and directories gone', async () => {
    expect((await xs('write', `${BE}/online`, '0')).code).to.equal(0);
    const ev = await qmp.waitEvent('DEVICE_DELETED', () => true, 15000);
    expect(ev['data']).to.deep.equal({ path: '/machine/peripheral-anon/device[0]' });
    expect(ns.hasLink('vif1.0')).to.equal(false);
    expect((await xs('exists', BE)).code).to.equal(1);
    expect((await xs('exists', FE)).code).to.equal(1);
  });

  it('runs a hotplug script that sets up the tap and reports connected; the backend waits for it', async () => {
    const B1 = '/local/domain/0/backend/qnic/1/1';
    const script = join(dir, 'vif-setup');
    const calls = join(dir, 'calls');
    writeFileSync(script, ['#!/bin/sh', `echo "$1 $vif $XENBUS_PATH" >> ${calls}`,
      'if [ "$1" = online ]; then',
      '  ip addr add 10.1.1.1/24 dev "$vif" && ip link set "$vif" up || {',
      '    xenstore-write "$XENBUS_PATH/hotplug-error" "cannot configure $vif" "$XENBUS_PATH/hotplug-status" error; exit 1; }',
      '  xenstore-write "$XENBUS_PATH/hotplug-status" connected',
      'fi', ''].join('\n'));
    chmodSync(script, 0o755);
    const w = await xs('write', `${B1}/mac`, '00:16:3e:5e:ed:05', `${B1}/script`, script, `${B1}/hotplug-status`, '',
      `${B1}/type`, 'vif', `${B1}/online`, '1', `${B1}/state`, '1');
    expect(w.code, w.stderr).to.equal(0);
    await eventually(async () => (await read(`${B1}/state`)) === '4', 15000, 'backend Connected after the script');
    expect(await read(`${B1}/hotplug-status`)).to.equal('connected');
    expect(readFileSync(calls, 'utf8')).to.equal('online vif1.1 backend/qnic/1/1\n');
    expect(ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.1.1.2'])).to.match(/2 packets transmitted, 2 received/);
    expect((await xs('write', `${B1}/online`, '0')).code).to.equal(0);
    const ev = await qmp.waitEvent('DEVICE_DELETED', () => true, 15000);
    expect(ev['data']).to.deep.equal({ path: '/machine/peripheral-anon/device[0]' });
    await eventually(() => readFileSync(calls, 'utf8').includes('offline'), 5000, 'the offline call');
  });
});
