// Smoke test of the real-Xen lab itself, step by step, so that a failure names the step that
// broke: Xen and dom0 boot, Xen's toolstack answers, two PV domUs come up with the real
// netfront, commands run in them, a QMP session reaches vifd in dom0 through the bridge (and
// again after vifd restarts), the domUs go, and nothing is left behind. It prints how long
// each thing took.

import { expect } from 'chai';
import { QmpClient } from '../../src/qmp/client.js';
import type { DomU } from './domu.js';
import type { Lab } from './lab.js';
import { connectQmp, type QmpBridge } from './qmp-bridge.js';
import { describeXen, sharedLab } from './shared-lab.js';
import { startVifd, vifdQmp, type VifdInDom0 } from './vifd-in-dom0.js';

const QMP_PATH = '/run/vifd-smoke.qmp';

describeXen('xen-host lab: real Xen 4.17, a PV dom0 in QEMU, real PV domUs', function () {
  let lab: Lab;
  const domUs: DomU[] = [];
  let vifd: VifdInDom0 | null = null;
  let bridge: QmpBridge | null = null;
  let qmp: QmpClient | null = null;
  const timings: string[] = [];
  const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const v = await f();
    timings.push(`${what} ${secs(Date.now() - t0)}`);
    return v;
  };
  const start = async (what: string): Promise<VifdInDom0> => {
    if (vifd?.proc.exitCode === undefined) await vifd?.proc.stop(); // left by a step that failed
    const v = await startVifd(lab, 'vifd-smoke', QMP_PATH, ['-xenstore', 'none', '-dashboard', 'none']);
    timings.push(`${what} ${secs(v.startMs)}`);
    return v;
  };
  const needDomUs = (): void => {
    if (domUs.length < 2) throw new Error('needs the two domUs of the step that creates them');
  };

  before(async () => {
    lab = await sharedLab();
    timings.push(`boot to dom0's agent ${secs(lab.timings.bootMs)} (dom0 uptime ${lab.timings.dom0UptimeAtReadyS} s)`);
  });

  after(async () => {
    qmp?.close();
    await bridge?.close();
    if (vifd?.proc.exitCode === undefined) await vifd?.proc.stop();
    for (const d of domUs) await d.destroy().catch(() => undefined);
    if (timings.length > 0) process.stdout.write(`      timings: ${timings.join('; ')}\n`);
  });

  it('boots: dom0\'s agent runs commands and says how they ended', async () => {
    const ok = await lab.dom0.run('echo out; echo err >&2; exit 3');
    expect(ok).to.include({ rc: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    const rounds: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await lab.dom0.sh('true');
      rounds.push(Date.now() - t0);
    }
    timings.push(`dom0 command round trip ${rounds.sort((a, b) => a - b)[2]} ms`);
    const slow = await lab.dom0.run('sleep 30', { timeoutMs: 1000 });
    expect(slow.timedOut, 'a command past its limit is killed').to.equal(true);
  });

  it('answers `xl info` with Xen 4.17, and its xenstore answers too', async () => {
    const info = await lab.dom0.sh('xl info');
    expect(info).to.match(/xen_version\s+: 4\.17/);
    expect(await lab.dom0.xenstoreRead('/local/domain/0/name')).to.equal('Domain-0');
    await lab.dom0.xenstoreWrite({ '/vifd-smoke/a': 1, '/vifd-smoke/b/c': 'two words' });
    expect(await lab.dom0.xenstoreLs('/vifd-smoke')).to.deep.equal(['a', 'b']);
    expect(await lab.dom0.xenstoreTree('/vifd-smoke')).to.deep.equal(new Map([
      ['/vifd-smoke/a', '1'], ['/vifd-smoke/b', ''], ['/vifd-smoke/b/c', 'two words'],
    ]));
    await lab.dom0.xenstoreRm('/vifd-smoke');
  });

  it('creates two PV domUs at once, without a vif, netfront loaded with the parameters asked for', async () => {
    const created = await timed('two domUs created together', () => Promise.allSettled([
      lab.createDomU({ name: 'smoke1', addresses: { eth0: '10.98.0.2/24' } }),
      lab.createDomU({ name: 'smoke2', addresses: { eth0: '10.98.1.2/24' }, netfront: { max_queues: 2 } }),
    ]));
    for (const c of created) if (c.status === 'fulfilled') domUs.push(c.value); // after() destroys them
    for (const c of created) if (c.status === 'rejected') throw c.reason;
    const [d1, d2] = domUs;
    expect(d1!.domid).to.not.equal(d2!.domid);
    expect(await lab.dom0.xenstoreRead(`/local/domain/${d2!.domid}/name`)).to.equal('smoke2');
    expect(await lab.dom0.xenstoreLs(`/local/domain/${d1!.domid}/device`), 'no vif yet').to.not.include('vif');
    expect((await d2!.sh('cat /sys/module/xen_netfront/parameters/max_queues')).trim()).to.equal('2');
  });

  it('runs commands in the domUs (uname -r: dom0\'s kernel), with exit codes and time limits', async () => {
    needDomUs();
    const dom0Kernel = (await lab.dom0.sh('uname -r')).trim();
    const t0 = Date.now();
    const uname = await domUs[0]!.run('uname -r');
    timings.push(`domU command round trip ${Date.now() - t0} ms`);
    expect(uname).to.include({ rc: 0, stdout: `${dom0Kernel}\n` });
    expect((await domUs[1]!.run('echo two; exit 4')).rc).to.equal(4);
    const killed = await domUs[1]!.run('sleep 20', { timeoutMs: 1000 });
    expect(killed).to.include({ rc: 137, timedOut: true });
    expect(domUs[0]!.console(), 'jobs never mix with the other domU').to.not.include('echo two');
  });

  it('brings vifd\'s QMP greeting from dom0 to the host through the bridge, replies and events included', async () => {
    bridge = await lab.qmpBridge(QMP_PATH);
    const early = await QmpClient.connect(bridge.path).then(() => 'a session', (err: Error) => err.message);
    expect(early, 'before vifd listens, a connection is closed at once').to.equal('connection closed before a reply');
    expect(bridge.lastError).to.match(/No such file or directory/);
    vifd = await start('vifd start in dom0');
    qmp = await vifdQmp(vifd, bridge);
    expect(qmp.greeting, 'greeting').to.have.nested.property('QMP.version.package').that.matches(/^vifd /);
    expect(await qmp.execute('query-status')).to.deep.equal({ return: { status: 'running', running: true } });
    const maps = await lab.dom0.procMaps(vifd.proc.pid);
    expect(maps.some((m) => /\/node$/.test(m.path) && m.perms.includes('x')), 'node mapped in vifd\'s maps').to.equal(true);
    expect(await qmp.execute('quit')).to.deep.equal({ return: {} });
    expect(await qmp.waitEvent('SHUTDOWN')).to.have.nested.property('data.reason', 'host-qmp-quit');
    await qmp.waitClosed(10000);
    expect(await vifd.proc.exited(15000), 'vifd exit code').to.equal(0);
  });

  it('reaches vifd again through the same bridge once it has restarted', async () => {
    if (!bridge) throw new Error('needs the bridge of the step before');
    vifd = await start('vifd restart');
    qmp = await vifdQmp(vifd, bridge);
    expect(await qmp.execute('query-status')).to.have.nested.property('return.running', true);
    qmp.close();
    qmp = await connectQmp(bridge, 15000); // a second session: the host side closed the first
    expect(await qmp.execute('query-status')).to.have.nested.property('return.running', true);
    const stopped = await vifd.proc.stop();
    expect(stopped.killed, 'vifd goes on SIGTERM').to.equal(false);
    await qmp.waitClosed(10000);
    await bridge.close();
    bridge = null;
  });

  it('destroys the domUs', async () => {
    needDomUs();
    await timed('two domUs destroyed', () => Promise.all(domUs.map((d) => d.destroy())));
    const list = await lab.dom0.sh('xl list');
    for (const d of domUs) expect(list).to.not.include(d.name);
  });

  it('leaves nothing behind in the shared lab', async () => {
    const list = (await lab.dom0.sh('xl list')).trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]);
    expect(list, 'domains').to.deep.equal(['Domain-0']);
    expect(lab.dom0.running().map((p) => p.name), 'background processes').to.deep.equal([]);
    expect(lab.openBridges(), 'QMP bridges').to.have.length(0);
    expect(lab.liveDomUs(), 'domUs').to.have.length(0);
  });
});
