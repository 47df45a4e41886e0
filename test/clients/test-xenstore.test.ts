// Xen's own conformance program, test-xenstore (Debian xen-utils-4.17), against vifd's socket:
// every test it has, then again with many iterations and its random mode.

import { expect } from 'chai';
import { runTool, serveStore, type ServedStore } from '../helpers/xs-wire.js';

const TEST_XENSTORE = '/usr/lib/xen-4.17/bin/test-xenstore';

describe("clients: Xen's test-xenstore", function () {
  this.timeout(120000);
  let s: ServedStore;

  before(async () => { s = await serveStore(); });
  after(async () => { await s?.stop(); });

  it('lists the twelve tests it will run', async () => {
    const r = await runTool(s.path, TEST_XENSTORE, ['-l']);
    expect(r.stdout.trim().split('\n')).to.have.length(12);
  });

  it('passes every test', async () => {
    const r = await runTool(s.path, TEST_XENSTORE, [], 60000);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.have.length(12);
    expect(r.stdout).to.match(/ta err {4}: \d+ ns/);
  });

  it('passes every test 50 times over', async () => {
    const r = await runTool(s.path, TEST_XENSTORE, ['-i', '50'], 90000);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/ta err {4}: avg: \d+ ns/);
  });

  it('passes its random mode for two seconds', async () => {
    const r = await runTool(s.path, TEST_XENSTORE, ['-r', '2'], 60000);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  });

  it('leaves the store as it found it (its test directory is removed)', () => {
    expect(s.store.entries().map((e) => e.path).filter((p) => p.includes('test'))).to.deep.equal([]);
  });
});
