// Debian's xenstore-utils against vifd's xenstore socket (XENSTORED_PATH), outputs checked as a
// user would read them: write, read, ls, list, exists, chmod, rm and watch -n.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { runTool, serveStore, type ServedStore } from '../helpers/xs-wire.js';

describe('clients: xenstore-utils (libxenstore over the socket)', function () {
  this.timeout(30000);
  let s: ServedStore;
  const tool = (name: string, ...args: string[]) => runTool(s.path, `/usr/bin/xenstore-${name}`, args);

  before(async () => { s = await serveStore(); });
  after(async () => { await s?.stop(); });

  it('writes several keys in one go and reads them back in order', async () => {
    expect(await tool('write', '/vm/a', '1', '/vm/b/c', 'two words')).to.deep.include({ code: 0, stdout: '' });
    const r = await tool('read', '/vm/a', '/vm/b/c');
    expect(r).to.deep.include({ code: 0, stdout: '1\ntwo words\n' });
  });

  it('fails to read a missing key with a non-zero status and a message', async () => {
    const r = await tool('read', '/vm/missing');
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("couldn't read path /vm/missing");
  });

  it('lists a tree (ls, ls -f) and the children of a node (list)', async () => {
    expect((await tool('ls', '/vm')).stdout).to.equal('a = "1"\nb = ""\n c = "two words"\n');
    expect((await tool('ls', '-f', '/vm')).stdout).to.equal('/vm/a = "1"\n/vm/b = ""\n/vm/b/c = "two words"\n');
    expect((await tool('list', '/vm')).stdout).to.equal('a\nb\n');
  });

  it('lists a directory too big for one reply (E2BIG, then libxenstore pages with DIRECTORY_PART)', async () => {
    const dom0 = s.store.connect(0);
    const names = Array.from({ length: 300 }, (_, i) => `a-rather-long-child-name-${String(i).padStart(3, '0')}`);
    for (const n of names) dom0.write(`/big/${n}`, '');
    dom0.close();
    const r = await tool('list', '/big');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.deep.equal(names);
  });

  it('answers exists with its exit status', async () => {
    expect((await tool('exists', '/vm/a')).code).to.equal(0);
    expect((await tool('exists', '/vm/nothing')).code).to.equal(1);
  });

  it('changes permissions (chmod, chmod -r) and shows them (ls -p)', async () => {
    expect((await tool('chmod', '/vm/a', 'n0', 'r1')).code).to.equal(0);
    const ls = (await tool('ls', '-p', '/vm')).stdout.split('\n');
    expect(ls[0]).to.match(/^a = "1" [ .]*\(n0,r1\)$/);
    expect(ls[1]).to.match(/^b = "" [ .]*\(n0\)$/);
    expect((await tool('chmod', '-r', '/vm/b', 'n0', 'b3')).code).to.equal(0);
    expect(s.store.entries().filter((e) => e.path.startsWith('/vm/b')).map((e) => e.perms.join(',')))
      .to.deep.equal(['n0,b3', 'n0,b3']);
  });

  it('removes a key (rm) and, with -t, the parents it leaves empty', async () => {
    expect((await tool('rm', '/vm/a')).code).to.equal(0);
    expect((await tool('list', '/vm')).stdout).to.equal('b\n');
    expect((await tool('rm', '-t', '/vm/b/c')).code).to.equal(0);
    expect((await tool('exists', '/vm')).code).to.equal(1);
  });

  it('watches with -n: the initial event, then one per change below the path', async () => {
    const child = spawn('/usr/bin/xenstore-watch', ['-n', '3', '/w'], { env: { ...process.env, XENSTORED_PATH: s.path } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const deadline = Date.now() + 10000;
    while (!out.includes('/w\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect((await tool('write', '/w/x', '1')).code).to.equal(0);
    expect((await tool('write', '/wx', 'not below /w')).code).to.equal(0);
    expect((await tool('write', '/w/y/z', '2')).code).to.equal(0);
    expect(await exited).to.equal(0);
    expect(out).to.equal('/w\n/w/x\n/w/y/z\n');
  });
});
