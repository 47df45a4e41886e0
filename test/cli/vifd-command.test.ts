// The vifd command itself: --help, --version, and one line plus exit status 1 for bad options.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const run = (...args: string[]) => spawnSync(process.execPath, [resolve('bin/vifd.js'), ...args], { encoding: 'utf8', timeout: 20000 });

describe('the vifd command', () => {
  it('prints usage for --help and exits 0', () => {
    const r = run('--help');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^usage: vifd/);
    expect(r.stdout).to.include('-qmp unix:PATH,server=on,wait=off');
  });

  it('prints its version for --version and exits 0', () => {
    const r = run('--version');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^vifd \d+\.\d+\.\d+ \(QMP as QEMU 10\.0\.2\)\n$/);
  });

  it('answers a bad option with one line on stderr and exit status 1', () => {
    const r = run('-bogus');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.equal('vifd: -bogus: invalid option\n');
  });

  it('answers a bad -device with one line and exit status 1, before listening', () => {
    const r = run('-qmp', 'unix:/tmp/vifd-never-made.sock,server=on,wait=off', '-device', 'xen-net-device,mac=zz');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.equal("vifd: Property 'xen-net-device.mac' doesn't take value 'zz'\n");
  });
});
