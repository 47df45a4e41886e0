// The command line reads QEMU's spellings of monitors, guests, netdevs and devices.

import { expect } from 'chai';
import { DEFAULT_QMP_PATH, parseCommandLine } from '../../src/cli/options.js';
import { OptionError } from '../../src/cli/qemu-opts.js';

describe('vifd command line', () => {
  it('defaults to QMP on run/qmp.sock and one guest, domid 1', () => {
    const c = parseCommandLine([]);
    expect(c.qmp).to.deep.equal([{ path: DEFAULT_QMP_PATH, pretty: false }]);
    expect(c.guests).to.deep.equal([{ domid: 1, name: 'guest1' }]);
  });

  it('takes repeated -qmp, the legacy server,nowait spelling and -qmp-pretty', () => {
    const c = parseCommandLine(['-qmp', 'unix:/a,server=on,wait=off', '--qmp', 'unix:/b,server,nowait',
      '-qmp-pretty', 'unix:/c,server=on,wait=off']);
    expect(c.qmp).to.deep.equal([{ path: '/a', pretty: false }, { path: '/b', pretty: false }, { path: '/c', pretty: true }]);
  });

  it('takes the long -chardev + -mon form with pretty=on', () => {
    const c = parseCommandLine(['-chardev', 'socket,id=m1,path=/x,server=on,wait=off', '-mon', 'chardev=m1,mode=control,pretty=on']);
    expect(c.qmp).to.deep.equal([{ path: '/x', pretty: true }]);
  });

  it('reads ,, as a literal comma in a path', () => {
    expect(parseCommandLine(['-qmp', 'unix:/a,,b,server=on,wait=off']).qmp[0]!.path).to.equal('/a,b');
  });

  it('takes guests, netdevs and devices', () => {
    const c = parseCommandLine(['-guest', 'domid=3,name=web', '-guest', 'domid=4', '-netdev', 'tap,id=t0,ifname=x0,script=no',
      '-device', 'xen-net-device,id=n0,netdev=t0,idx=2']);
    expect(c.guests).to.deep.equal([{ domid: 3, name: 'web' }, { domid: 4, name: 'guest4' }]);
    expect(c.netdevs).to.deep.equal([{ type: 'tap', props: { id: 't0', ifname: 'x0', script: 'no' } }]);
    expect(c.devices).to.deep.equal([{ driver: 'xen-net-device', id: 'n0', netdev: 't0', idx: '2' }]);
  });

  it('takes queues= per guest, for each of its netfronts', () => {
    expect(parseCommandLine(['-guest', 'domid=2,queues=4']).guests).to.deep.equal([{ domid: 2, name: 'guest2', queues: 4 }]);
  });

  it('runs the datapath on the main thread unless -datapath thread=on', () => {
    expect(parseCommandLine([]).datapathThread).to.equal(false);
    expect(parseCommandLine(['-datapath', 'thread=on']).datapathThread).to.equal(true);
    expect(parseCommandLine(['-datapath', 'thread=on', '-datapath', 'thread=off']).datapathThread).to.equal(false);
  });

  const bad: Array<[string[], RegExp]> = [
    [['-datapath', 'thread=maybe'], /-datapath: Parameter 'thread' expects 'on' or 'off'/],
    [['-datapath', 'threads=on'], /-datapath: Invalid parameter 'threads'/],
    [['-datapath', 'x'], /-datapath: /],
    [['-frobnicate'], /-frobnicate: invalid option/],
    [['-qmp'], /-qmp: requires an argument/],
    [['-qmp', 'tcp:localhost:4444,server=on,wait=off'], /only unix: sockets/],
    [['-qmp', 'unix:/a,wait=off'], /server=on is required/],
    [['-qmp', 'unix:/a,server=on,wait=on'], /wait=on is not supported/],
    [['-mon', 'chardev=nope,mode=control'], /chardev 'nope' not found/],
    [['-chardev', 'socket,id=m,path=/x,server=on,wait=off', '-mon', 'chardev=m'], /mode=readline is not supported/],
    [['-guest', 'domid=0'], /domid must be an integer/],
    [['-guest', 'domid=2', '-guest', 'domid=2'], /given twice/],
    [['-guest', 'name=x'], /'domid' is missing/],
    [['-guest', 'domid=1,queues=0'], /queues must be an integer from 1 to 64, not '0'/],
    [['-guest', 'domid=1,queues=two'], /queues must be an integer from 1 to 64, not 'two'/],
    [['-guest', 'domid=1,queues=65'], /queues must be an integer from 1 to 64/],
    [['-device', 'xen-net-device,mac'], /invalid parameter 'mac'/],
  ];
  for (const [argv, re] of bad) {
    it(`refuses ${argv.join(' ')} with one clear message`, () => {
      expect(() => parseCommandLine(argv)).to.throw(OptionError, re);
    });
  }
});
