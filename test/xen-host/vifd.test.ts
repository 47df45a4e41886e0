// vifd's host platform (-accel xen) in the lab's dom0, serving real PV domUs' real xen-netfront:
// hotplug over QMP, ping both ways through the tap, 16 MiB of TCP each way with GSO negotiated
// and without, on one queue and on two, unplug and replug, the netfront reloaded, a vif made with
// xenstore-write alone, two domUs at once, vifd started before a domU and after it (then with
// its datapath thread), and a domain destroyed with traffic in flight. Each step is a test of
// its own, in order: a failure names the step that broke.

import { expect } from 'chai';
import type { QmpClient, QmpMessage } from '../../src/qmp/client.js';
import type { DomU } from './domu.js';
import type { Lab } from './lab.js';
import { pingUntil, tcpFromDomU, tcpToDomU } from './network.js';
import type { QmpBridge } from './qmp-bridge.js';
import { describeXen, sharedLab } from './shared-lab.js';
import { startVifd, vifdQmp, type VifdInDom0 } from './vifd-in-dom0.js';

const QMP_PATH = '/run/vifd-host.qmp';
const MIB = 16;
/** The toolstack's own vifs start at 0: a vif hot-plugged without idx takes 1, as QEMU's does. */
const FIRST_IDX = 1;

describeXen('vifd on a real Xen: real netfronts served from dom0', function () {
  let lab: Lab;
  let vifd: VifdInDom0 | null = null;
  let bridge: QmpBridge | null = null;
  let qmp: QmpClient | null = null;
  let d1: DomU | null = null;
  let d2: DomU | null = null;
  const figures: string[] = [];

  const need = <T>(v: T | null, what: string): T => {
    if (v === null) throw new Error(`needs ${what} from an earlier step`);
    return v;
  };
  const client = (): QmpClient => need(qmp, 'vifd\'s QMP session');
  const ok = (r: QmpMessage, what: string): void => {
    expect(r, what).to.deep.equal({ return: {} });
  };
  const be = (domid: number, idx: number): string => `/local/domain/0/backend/qnic/${domid}/${idx}`;
  const fe = (domid: number, idx: number): string => `/local/domain/${domid}/device/vif/${idx}`;
  const exists = async (path: string): Promise<boolean> => (await lab.dom0.run(['xenstore-exists', path])).rc === 0;
  const hasLink = async (ifname: string): Promise<boolean> => (await lab.dom0.run(['ip', 'link', 'show', ifname])).rc === 0;
  /** Pages of other domains vifd has mapped (each ring is one). */
  const gntdevMaps = async (): Promise<number> =>
    (await lab.dom0.procMaps(need(vifd, 'vifd').proc.pid)).filter((m) => m.path === '/dev/xen/gntdev')
      .reduce((pages, m) => pages + Number((m.end - m.start) / 4096n), 0);
  /** dom0's event channels bound to `domid` (lsevtchn: Xen's own list, so nothing of vifd's view). */
  const portsTo = async (domid: number): Promise<string[]> =>
    (await lab.dom0.sh(['/usr/lib/xen-4.17/bin/lsevtchn', '0'])).split('\n').filter((l) => new RegExp(`Remote Domain ${domid},`).test(l));

  /** Starts vifd (stopping one that runs), with a QMP session through a bridge. */
  const startVifdWith = async (args: string[]): Promise<void> => {
    await stopVifd();
    vifd = await startVifd(lab, 'vifd-host', QMP_PATH, ['-accel', 'xen', '-dashboard', 'none', ...args]);
    figures.push(`vifd start ${(vifd.startMs / 1000).toFixed(1)} s`);
    bridge = await lab.qmpBridge(QMP_PATH);
    qmp = await vifdQmp(vifd, bridge);
  };
  const stopVifd = async (): Promise<void> => {
    qmp?.close();
    qmp = null;
    await bridge?.close();
    bridge = null;
    if (vifd && vifd.proc.exitCode === undefined) await vifd.proc.stop();
  };

  /** Hot-plugs a vif and waits for the domU's new ethN to come up; returns the tap's name. */
  const plug = async (domU: DomU, args: Record<string, unknown>, eth: string, tap: string, hostAddr: string): Promise<void> => {
    const mark = domU.mark();
    ok(await client().execute('device_add', { driver: 'xen-net-device', ...args }), `device_add ${JSON.stringify(args)}`);
    await domU.waitConsole(new RegExp(`VIFD-DOMU: ${eth} up `), { after: mark, timeoutMs: 60000 });
    await lab.dom0.sh(`ip addr add ${hostAddr} dev ${tap} && ip link set ${tap} up`);
  };
  const unplug = async (domU: DomU, id: string, eth: string): Promise<void> => {
    const mark = domU.mark();
    ok(await client().execute('device_del', { id }), `device_del ${id}`);
    await client().waitEvent('DEVICE_DELETED', (d) => d['device'] === id, 60000);
    await domU.waitConsole(new RegExp(`VIFD-DOMU: ${eth} gone`), { after: mark, timeoutMs: 60000 });
  };
  const tcpBothWays = async (domU: DomU, domUIp: string, hostIp: string, what: string): Promise<void> => {
    const to = await tcpToDomU(lab.dom0, lab.cache.busybox, domU, domUIp, { mib: MIB });
    const from = await tcpFromDomU(lab.dom0, lab.cache.busybox, domU, hostIp, { mib: MIB });
    expect(to.bytes, `${what}: bytes into the domU`).to.equal(MIB * 1048576);
    expect(from.bytes, `${what}: bytes out of the domU`).to.equal(MIB * 1048576);
    figures.push(`${what}: ${to.mibPerSecond} MiB/s in, ${from.mibPerSecond} MiB/s out`);
  };
  const frontendKey = (domU: DomU, idx: number, key: string): Promise<string | null> =>
    lab.dom0.xenstoreRead(`${fe(domU.domid, idx)}/${key}`, { tries: 1 }).catch(() => null);
  /** Waits until `path` reads `value` (an interface comes up before its netfront has connected). */
  const waitKey = async (path: string, value: string, timeoutMs = 30000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last: string | null = null;
    while (Date.now() < deadline) {
      last = await lab.dom0.xenstoreRead(path, { tries: 1 }).catch(() => null);
      if (last === value) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${path} reads ${JSON.stringify(last)}, not ${value}, after ${timeoutMs / 1000} s`);
  };

  before(async () => {
    lab = await sharedLab();
  });

  after(async () => {
    await stopVifd();
    for (const d of [d1, d2]) await d?.destroy().catch(() => undefined);
    if (figures.length > 0) process.stdout.write(`      ${figures.join('\n      ')}\n`);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && vifd) {
      process.stderr.write(`      vifd's log:\n${vifd.proc.stderr.split('\n').slice(-40).join('\n')}\n`);
    }
  });

  it('starts before any domU: -accel xen opens dom0\'s xenstored, gntdev and evtchn', async () => {
    await startVifdWith(['-datapath', 'max-queues=2']);
    expect((await client().execute('query-status'))['return']).to.deep.include({ running: true });
    expect(vifd!.proc.stdout).to.match(/xen: serving the domains of the hypervisor/);
  });

  it('lists a domain created after it (its name from xenstore) as a guest', async () => {
    d1 = await lab.createDomU({ name: 'hx1', memoryMiB: 192, netfront: { max_queues: 1 },
      addresses: { eth0: '10.99.1.2/24', eth1: '10.99.2.2/24', eth2: '10.99.3.2/24' } });
    const guests = (await client().execute('__com.vifd_query-guests'))['return'] as Array<Record<string, unknown>>;
    expect(guests.map((g) => [g['domid'], g['name']])).to.deep.include([d1.domid, 'hx1']);
  });

  it('hot-plugs a vif with device_add: the domU\'s eth0 appears with its MAC, both ends Connected', async () => {
    const d = need(d1, 'the domU');
    await plug(d, { id: 'n0', mac: '00:16:3e:0a:00:01' }, 'eth0', `vif${d.domid}.${FIRST_IDX}`, '10.99.1.1/24');
    expect(d.console()).to.match(/VIFD-DOMU: eth0 appeared mac 00:16:3e:0a:00:01/);
    await waitKey(`${be(d.domid, FIRST_IDX)}/state`, '4');
    await waitKey(`${fe(d.domid, FIRST_IDX)}/state`, '4');
  });

  it('pings both ways through the tap vif<domid>.<idx>', async () => {
    const d = need(d1, 'the domU');
    figures.push(`first ping reply ${(await pingUntil(lab.dom0, '10.99.1.2', 30000)).toFixed(2)} s after the link was up`);
    const out = await d.sh('ping -c 3 -W 2 10.99.1.1');
    expect(out).to.match(/3 packets transmitted, 3 packets received/);
  });

  it(`moves ${MIB} MiB of TCP each way on one queue with GSO negotiated`, async () => {
    const d = need(d1, 'the domU');
    expect(await lab.dom0.xenstoreRead(`${be(d.domid, FIRST_IDX)}/feature-gso-tcpv4`)).to.equal('1');
    expect(await frontendKey(d, FIRST_IDX, 'feature-gso-tcpv4')).to.equal('1');
    // Netfront writes how many queues it took (one: its max_queues), and one queue's keys sit flat.
    expect(await frontendKey(d, FIRST_IDX, 'multi-queue-num-queues')).to.equal('1');
    expect(await frontendKey(d, FIRST_IDX, 'tx-ring-ref')).to.match(/^\d+$/);
    await tcpBothWays(d, '10.99.1.2', '10.99.1.1', '1 queue, GSO');
  });

  it(`moves ${MIB} MiB each way on one queue without GSO (a tap without vnet_hdr offers none)`, async () => {
    const d = need(d1, 'the domU');
    ok(await client().execute('netdev_add', { type: 'tap', id: 'plain', ifname: 'vifd-plain', script: 'no', downscript: 'no',
      vnet_hdr: false }), 'netdev_add');
    await plug(d, { id: 'n1', netdev: 'plain', mac: '00:16:3e:0a:00:02' }, 'eth1', 'vifd-plain', '10.99.2.1/24');
    await waitKey(`${be(d.domid, FIRST_IDX + 1)}/state`, '4');
    expect(await lab.dom0.run(['xenstore-read', `${be(d.domid, FIRST_IDX + 1)}/feature-gso-tcpv4`]).then((r) => r.rc),
      'no GSO advertised').to.not.equal(0);
    await tcpBothWays(d, '10.99.2.2', '10.99.2.1', '1 queue, no GSO');
  });

  it('reconnects both vifs on two queues once the netfront is reloaded with max_queues=2 (Closed, then InitWait)', async () => {
    const d = need(d1, 'the domU');
    const mark = d.mark();
    // xenbus holds the module while a device is bound to it: unbind them first, as a reload must.
    await d.sh(`for v in /sys/bus/xen/drivers/vif/vif-*; do echo \${v##*/} > /sys/bus/xen/drivers/vif/unbind; done
      rmmod xen-netfront && insmod /lib/modules/xen-netfront.ko max_queues=2`, { timeoutMs: 60000 });
    await d.waitConsole(/VIFD-DOMU: eth0 up /, { after: mark, timeoutMs: 60000 });
    await d.waitConsole(/VIFD-DOMU: eth1 up /, { after: mark, timeoutMs: 60000 });
    for (const idx of [FIRST_IDX, FIRST_IDX + 1]) {
      await waitKey(`${be(d.domid, idx)}/state`, '4');
      expect(await frontendKey(d, idx, 'multi-queue-num-queues'), `vif ${idx}`).to.equal('2');
      expect(await frontendKey(d, idx, 'queue-1/tx-ring-ref'), `vif ${idx}`).to.match(/^\d+$/);
    }
    // Both rings of both queues of both vifs are mapped.
    expect(await gntdevMaps()).to.equal(8);
  });

  it(`moves ${MIB} MiB each way on two queues, with GSO and without`, async () => {
    const d = need(d1, 'the domU');
    await pingUntil(lab.dom0, '10.99.1.2', 30000);
    await tcpBothWays(d, '10.99.1.2', '10.99.1.1', '2 queues, GSO');
    await pingUntil(lab.dom0, '10.99.2.2', 30000);
    await tcpBothWays(d, '10.99.2.2', '10.99.2.1', '2 queues, no GSO');
  });

  it('unplugs with device_del: DEVICE_DELETED, eth gone in the domU, and nothing of the vif left', async () => {
    const d = need(d1, 'the domU');
    await unplug(d, 'n1', 'eth1');
    expect(await exists(be(d.domid, FIRST_IDX + 1)), 'backend directory').to.equal(false);
    expect(await exists(fe(d.domid, FIRST_IDX + 1)), 'frontend directory').to.equal(false);
    expect(await gntdevMaps(), 'the other vif\'s rings only').to.equal(4);
    ok(await client().execute('netdev_del', { id: 'plain' }), 'netdev_del');
    expect(await hasLink('vifd-plain'), 'the netdev\'s tap').to.equal(false);
  });

  it('plugs the same vif again (same id, MAC and index) and it carries traffic', async () => {
    const d = need(d1, 'the domU');
    await unplug(d, 'n0', 'eth0');
    expect(await hasLink(`vif${d.domid}.${FIRST_IDX}`)).to.equal(false);
    expect(await gntdevMaps()).to.equal(0);
    await plug(d, { id: 'n0', mac: '00:16:3e:0a:00:01', idx: FIRST_IDX }, 'eth0', `vif${d.domid}.${FIRST_IDX}`, '10.99.1.1/24');
    await pingUntil(lab.dom0, '10.99.1.2', 30000);
  });

  it('connects a vif made with xenstore-write alone (mac, online, state), and takes it away with online=0', async () => {
    const d = need(d1, 'the domU');
    const B = be(d.domid, 7);
    const mark = d.mark();
    await lab.dom0.xenstoreWrite({ [`${B}/mac`]: '00:16:3e:0a:00:07', [`${B}/online`]: 1, [`${B}/state`]: 1 });
    await d.waitConsole(/VIFD-DOMU: eth1 up /, { after: mark, timeoutMs: 60000 });
    await waitKey(`${B}/state`, '4');
    await lab.dom0.sh(`ip addr add 10.99.2.1/24 dev vif${d.domid}.7 && ip link set vif${d.domid}.7 up`);
    await pingUntil(lab.dom0, '10.99.2.2', 30000);
    const gone = d.mark();
    await lab.dom0.xenstoreWrite({ [`${B}/online`]: 0 });
    const deleted = await client().waitEvent('DEVICE_DELETED', (e) => String(e['path']).startsWith('/machine/peripheral-anon/'), 60000);
    expect(deleted['data']).to.not.have.property('device');
    await d.waitConsole(/VIFD-DOMU: eth1 gone/, { after: gone, timeoutMs: 60000 });
    expect(await exists(B)).to.equal(false);
  });

  it('serves two domUs at once', async () => {
    const a = need(d1, 'the first domU');
    d2 = await lab.createDomU({ name: 'hx2', addresses: { eth0: '10.99.4.2/24' } });
    await plug(d2, { id: 'm0', 'frontend-id': d2.domid, mac: '00:16:3e:0b:00:01' }, 'eth0', `vif${d2.domid}.${FIRST_IDX}`, '10.99.4.1/24');
    await pingUntil(lab.dom0, '10.99.4.2', 30000);
    await pingUntil(lab.dom0, '10.99.1.2', 30000);
    expect(await a.sh('ping -c 2 -W 2 10.99.1.1')).to.match(/2 packets received/);
  });

  it('survives `xl destroy` of a domain with traffic in flight: its vifs go, leaving nothing; vifd answers', async () => {
    const d = need(d2, 'the second domU');
    // A TCP stream out of the domU into a sink in dom0, cut off by the destroy.
    const sink = await lab.dom0.start('sink', `${lab.cache.busybox} nc -l -p 5009 > /dev/null`);
    await d.start('sleep 0.5; dd if=/dev/zero bs=1048576 count=256 2>/dev/null | nc 10.99.4.1 5009', { timeoutMs: 120000 });
    const busy = async (): Promise<number> => Number(await lab.dom0.sh(`cat /sys/class/net/vif${d.domid}.${FIRST_IDX}/statistics/rx_bytes`));
    const before = await busy();
    await new Promise((r) => setTimeout(r, 4000));
    expect(await busy(), 'bytes flowing when the domain goes').to.be.above(before);
    expect(await portsTo(d.domid), 'ports bound to it before').to.not.deep.equal([]);
    await lab.dom0.sh(['xl', 'destroy', 'hx2'], { timeoutMs: 60000 });
    await client().waitEvent('DEVICE_DELETED', (e) => e['device'] === 'm0', 60000);
    expect((await client().execute('query-status'))['return']).to.deep.include({ running: true });
    expect(await exists(`/local/domain/0/backend/qnic/${d.domid}`), 'its backend area').to.equal(false);
    expect(await hasLink(`vif${d.domid}.${FIRST_IDX}`), 'its tap').to.equal(false);
    expect(await portsTo(d.domid), 'event channels bound to it').to.deep.equal([]);
    expect(await gntdevMaps(), 'only the first domU\'s rings').to.equal(4);
    await d.destroy().catch(() => undefined);
    d2 = null;
    await sink.stop({ signal: 'KILL' });
    // The other domain's vif is untouched.
    await pingUntil(lab.dom0, '10.99.1.2', 30000);
  });

  it('starts after a domU exists, with its datapath thread, and serves it', async () => {
    const d = need(d1, 'the domU');
    const mark = d.mark();
    await stopVifd();
    // vifd takes its vifs down on the way out, as an unplug would.
    await d.waitConsole(/VIFD-DOMU: eth0 gone/, { after: mark, timeoutMs: 60000 });
    expect(await exists(`/local/domain/0/backend/qnic/${d.domid}/${FIRST_IDX}`)).to.equal(false);
    await startVifdWith(['-datapath', 'thread=on,max-queues=2', '-xen-domid', String(d.domid)]);
    await plug(d, { id: 'n0', mac: '00:16:3e:0a:00:01' }, 'eth0', `vif${d.domid}.${FIRST_IDX}`, '10.99.1.1/24');
    await pingUntil(lab.dom0, '10.99.1.2', 30000);
    expect(await d.sh('ping -c 3 -W 2 10.99.1.1')).to.match(/3 packets received/);
    const to = await tcpToDomU(lab.dom0, lab.cache.busybox, d, '10.99.1.2', { mib: 4 });
    const from = await tcpFromDomU(lab.dom0, lab.cache.busybox, d, '10.99.1.1', { mib: 4 });
    expect([to.bytes, from.bytes]).to.deep.equal([4 * 1048576, 4 * 1048576]);
    figures.push(`datapath thread, 2 queues: ${to.mibPerSecond} MiB/s in, ${from.mibPerSecond} MiB/s out (4 MiB)`);
    await unplug(d, 'n0', 'eth0');
  });
});
