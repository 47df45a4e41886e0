// `-xenstore`: the embedded defaults serve run/xenstored.sock; a configured vifd serves the
// socket it is given, or none.

import { expect } from 'chai';
import { parseCommandLine, USAGE } from '../../src/cli/options.js';
import { OptionError } from '../../src/cli/qemu-opts.js';
import { DEFAULT_XENSTORE_SOCKET } from '../../src/cli/xenstore-option.js';

const QMP = ['-qmp', 'unix:/q,server=on,wait=off'];

describe('vifd command line: -xenstore', () => {
  it('serves run/xenstored.sock with the embedded defaults (no arguments)', () => {
    expect(DEFAULT_XENSTORE_SOCKET).to.equal('run/xenstored.sock');
    expect(parseCommandLine([]).xenstore).to.deep.equal({ socket: 'run/xenstored.sock' });
  });

  it('serves nothing when a monitor is configured without -xenstore', () => {
    expect(parseCommandLine(QMP).xenstore).to.equal(null);
  });

  it('takes socket=PATH (one dash or two, commas doubled) and none', () => {
    expect(parseCommandLine([...QMP, '-xenstore', 'socket=/run/x.sock']).xenstore).to.deep.equal({ socket: '/run/x.sock' });
    expect(parseCommandLine(['--xenstore', 'socket=/a,,b']).xenstore).to.deep.equal({ socket: '/a,b' });
    expect(parseCommandLine(['-xenstore', 'none']).xenstore).to.equal(null);
  });

  it('takes connect=PATH: an external xenstored instead of the embedded store', () => {
    expect(parseCommandLine([...QMP, '-xenstore', 'connect=/run/xenstored/socket']).xenstore)
      .to.deep.equal({ connect: '/run/xenstored/socket' });
    expect(parseCommandLine(['-xenstore', 'connect=/x']).xenstore).to.deep.equal({ connect: '/x' });
  });

  it('documents the option in -help', () => {
    expect(USAGE).to.contain('-xenstore socket=PATH');
    expect(USAGE).to.contain('-xenstore connect=PATH');
  });

  const bad: Array<[string[], RegExp]> = [
    [['-xenstore'], /-xenstore: requires an argument/],
    [['-xenstore', 'path=/x'], /-xenstore: Invalid parameter 'path'/],
    [['-xenstore', 'socket='], /-xenstore: socket= needs a path/],
    [['-xenstore', 'socket=/a', '-xenstore', 'socket=/b'], /-xenstore: given twice/],
    [['-xenstore', 'connect='], /-xenstore: connect= needs a path/],
    [['-xenstore', 'socket=/a,connect=/b'], /-xenstore: socket= and connect= exclude each other/],
    [['-xenstore', 'server=on'], /-xenstore: Invalid parameter 'server'/],
  ];
  for (const [argv, re] of bad) {
    it(`refuses ${argv.join(' ')} with one clear message`, () => {
      expect(() => parseCommandLine(argv)).to.throw(OptionError, re);
    });
  }
});
