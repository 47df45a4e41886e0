// human-monitor-command: QEMU 10's reply lines where vifd can match them (oracle probe
// human_monitor_command), QEMU's formats for info network / qtree / version, and HMP's
// device_add / device_del / netdev_add / netdev_del / set_link with QMP's checks.

import { expect } from 'chai';
import { probe, stepWrites } from '../helpers/oracle.js';
import { useAppWithClient } from '../helpers/app.js';
import { eventually } from '../helpers/qmp-client.js';

describe('human-monitor-command', () => {
  const s = useAppWithClient();

  const hmp = async (line: string) => (await s.qmp.execute('human-monitor-command', { 'command-line': line }))['return'];

  it('answers the oracle probe human_monitor_command like QEMU 10 where it applies', async () => {
    const p = probe('human_monitor_command');
    // Not applicable: 2 (info version names QEMU's Debian package; vifd names itself), 3
    // (cpu-index 0 fails on QEMU -M none, which has no CPU; vifd accepts it because qmp-shell -H
    // sends it), 7 (info qtree: QEMU -M none has no xen-bus; vifd's is below).
    const applicable = new Set([0, 3, 4, 5]);
    for (const [i, step] of p.steps.entries()) {
      if (!applicable.has(i)) continue;
      for (const bytes of stepWrites(p.name, step)) s.qmp.send(bytes);
      expect(await s.qmp.nextLine(), `step ${i + 1}`).to.equal(step.responses![0]!.raw);
    }
  });

  it('prints info version as QEMU does: the version, then the package, nothing between', async () => {
    s.qmp.send('{"execute": "human-monitor-command", "arguments": {"command-line": "info version", "cpu-index": 0}, "id": 3}');
    expect(await s.qmp.nextLine()).to.equal('{"return": "10.0.2vifd 0.1.0\\r\\n", "id": 3}\r\n');
    expect(await s.qmp.execute('human-monitor-command', { 'command-line': 'info version', 'cpu-index': 1 }))
      .to.deep.equal({ error: { class: 'GenericError', desc: "Parameter 'cpu-index' expects a CPU number" } });
  });

  it('manages netdevs and devices in HMP syntax and shows them in info network and info qtree', async () => {
    expect(await hmp('netdev_add hubport,id=h0,hubid=0')).to.equal('');
    expect(await hmp('netdev_add tap,id=t0,fd=3')).to.equal("Error: File descriptor named '3' has not been found\r\n");
    expect(await hmp('netdev_add hubport,id=h0,hubid=0')).to.equal("Error: Duplicate ID 'h0'\r\n");
    expect(await hmp('netdev_add hubport,id=h1,hubid=x')).to.equal("Error: Invalid parameter type for 'hubid', expected: integer\r\n");
    expect(await hmp('netdev_add hubport,id=h9,hubid=9')).to.equal('');
    expect(await hmp('device_add xen-net-device,id=nic0,mac=00:16:3e:00:00:01,netdev=h0,idx=3')).to.equal('');
    expect(await hmp('device_add xen-net-device,id=nic0')).to.equal("Error: Duplicate device ID 'nic0'\r\n");
    expect(await hmp('device_add xen-net-device,id=nic1,mac=zz')).to.equal("Error: Property 'xen-net-device.mac' doesn't take value 'zz'\r\n");
    expect(await hmp('device_add nosuch')).to.equal("Error: 'nosuch' is not a valid device model name\r\n");
    expect(await hmp('info network')).to.equal(
      'hub 0\r\n \\ h0: index=0,type=hubport,hubid=0\r\n    \\ nic0: index=0,type=nic,model=xen-net-device,macaddr=00:16:3e:00:00:01\r\n' +
      'hub 9\r\n \\ h9: index=0,type=hubport,hubid=9\r\n');
    expect(await hmp('info qtree')).to.equal([
      'bus: main-system-bus', '  type System', '  dev: xen-bridge, id ""', '    bus: xen-bus.0', '      type xen-bus',
      '      dev: xen-net-device, id "nic0"', '        frontend-id = 1 (0x1)', '        netdev = "h0"',
      '        idx = 3 (0x3)', '        mac = "00:16:3e:00:00:01"', ''].join('\r\n'));
    expect(await hmp('set_link nic0 off')).to.equal('');
    expect(s.t.app.devices.find('nic0')!.properties()['link']).to.equal('down');
    expect(await hmp('set_link nic0 maybe')).to.equal('Expected \'on\' or \'off\'\r\nTry "help set_link" for more information\r\n');
    expect(await hmp('set_link nosuch on')).to.equal("Error: Device 'nosuch' not found\r\n");
    expect(await hmp('device_del nic0')).to.equal('');
    await s.qmp.waitEvent('DEVICE_DELETED');
    expect(await hmp('device_del nic0')).to.equal("Error: Device 'nic0' not found\r\n");
    expect(await hmp('netdev_del h9')).to.equal('');
    expect(await hmp('netdev_del h9')).to.equal("Error: Device 'h9' not found\r\n");
    await eventually(async () => (await hmp('info network')) === 'hub 0\r\n \\ h0: index=0,type=hubport,hubid=0\r\n', 5000, 'only h0 left');
  });

  it('lists a device with its own tap, and anonymous devices by model name', async () => {
    await s.qmp.execute('device_add', { driver: 'xen-net-device', mac: '00:16:3e:00:00:02' });
    expect(await hmp('info network')).to.equal('xen-net-device.0: index=0,type=nic,model=xen-net-device,macaddr=00:16:3e:00:00:02\r\n');
  });

  it('explains a missing argument as QEMU does, and answers unknown commands and info items', async () => {
    expect(await hmp('device_del')).to.equal('device_del: string expected\r\nTry "help device_del" for more information\r\n');
    expect(await hmp('info nosuch')).to.equal("unknown command: 'info nosuch'\r\n");
    expect(await hmp('  ')).to.equal('');
    expect(await hmp('help netdev_del')).to.equal('netdev_del id -- remove host network device\r\n');
    expect(await hmp('? info')).to.equal(await hmp('info'));
    const help = (await hmp('help')) as string;
    expect(help.split('\r\n').filter(Boolean).map((l) => l.split(' ')[0]))
      .to.deep.equal(['device_add', 'device_del', 'help|?', 'info', 'netdev_add', 'netdev_del', 'set_link']);
  });
});
