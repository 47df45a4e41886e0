// The blocking client vifd's device model uses on an external xenstored (-xenstore connect=).
// The daemon is vifd's own xenstore served by the real CLI in a child process, so the main
// thread here can block the way vifd's does while the daemon keeps answering.

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTransaction, XsError } from '../../../../src/xen/xenstore/index.js';
import { XsBlockingClient } from '../../../../src/xen/xenstore/wire/blocking-client.js';
import { waitForSocket } from '../../../helpers/oxenstored.js';
import { VIFD_BIN } from '../../../helpers/vifd-process.js';

async function startDaemon(dir: string, sock: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [VIFD_BIN, '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
    '-xenstore', `socket=${sock}`], { env: { ...process.env, VIFD_LOG: 'error' }, stdio: 'ignore' });
  await waitForSocket(sock, child, 'vifd');
  return child;
}

async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

describe('xenstore: the blocking client on an external daemon', function () {
  this.timeout(30000);
  let dir: string;
  let sock: string;
  let daemon: ChildProcess;
  const clients: XsBlockingClient[] = [];
  const open = (opts = {}): XsBlockingClient => {
    const c = XsBlockingClient.connect(sock, opts);
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-xsblock-'));
    sock = join(dir, 'xenstored.sock');
    daemon = await startDaemon(dir, sock);
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  after(async () => {
    await stopDaemon(daemon);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers requests synchronously, with the daemon\'s error codes and what was asked', () => {
    const xs = open();
    xs.write('/t/a/b', 'hello');
    expect(xs.readString('/t/a/b')).to.equal('hello');
    expect(xs.read('/t/a/b')).to.deep.equal(Buffer.from('hello'));
    expect(xs.readString('/t/missing')).to.equal(undefined);
    expect(xs.directory('/t/a')).to.deep.equal(['b']);
    xs.setPerms('/t/a', ['n0', 'r5']);
    expect(xs.getPerms('/t/a')).to.deep.equal(['n0', 'r5']);
    expect(xs.getDomainPath(7)).to.equal('/local/domain/7');
    xs.mkdir('/t/dir');
    xs.rm('/t/a');
    expect(xs.directory('/t')).to.deep.equal(['dir']);
    let err: unknown;
    try {
      xs.read('/t/a/b');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(XsError);
    expect((err as XsError).code).to.equal('ENOENT');
    expect((err as XsError).message).to.contain('read /t/a/b').and.contain(sock);
  });

  it('lists a directory too big for one reply (DIRECTORY_PART underneath)', () => {
    const xs = open();
    const names = Array.from({ length: 300 }, (_, i) => `child-with-a-long-name-${String(i).padStart(4, '0')}`);
    withTransaction(xs, (tx) => names.forEach((n) => xs.write(`/big/${n}`, '', tx)));
    expect(xs.directory('/big').sort()).to.deep.equal(names);
  });

  it('delivers watch events from the event loop, never inside a request', async () => {
    const xs = open();
    const seen: string[] = [];
    let inRequest = false;
    xs.onWatchEvent = (path, token) => {
      expect(inRequest).to.equal(false);
      seen.push(`${path} ${token}`);
    };
    inRequest = true;
    xs.watch('/w', 'tok');
    xs.write('/w/x', '1');
    inRequest = false;
    await waitUntil(() => seen.length >= 2, 5000, 'two watch events');
    expect(seen).to.deep.equal(['/w tok', '/w/x tok']);
  });

  it('starts a transaction over when another connection changed what it read (EAGAIN)', () => {
    const a = open();
    const b = open();
    a.write('/tx/n', '1');
    let attempts = 0;
    withTransaction(a, (tx) => {
      attempts++;
      const v = a.readString('/tx/n', tx);
      if (attempts === 1) b.write('/tx/n', '10');
      a.write('/tx/n', `${v}+`, tx);
    });
    expect(attempts).to.equal(2);
    expect(a.readString('/tx/n')).to.equal('10+');
  });

  it('fails with EIO naming the path when no daemon listens there', () => {
    const missing = join(dir, 'none.sock');
    expect(() => XsBlockingClient.connect(missing)).to.throw(XsError, missing).with.property('code', 'EIO');
  });

  it('gives up on a daemon that does not answer within the timeout, and stays usable for others', async () => {
    const silent = join(dir, 'silent.sock');
    const server: Server = createServer(() => { /* accepts, never answers */ });
    await new Promise<void>((r) => server.listen(silent, r));
    try {
      // The connection itself succeeds (the kernel accepts it); the first request times out.
      const c = XsBlockingClient.connect(silent, { timeoutMs: 300 });
      clients.push(c);
      const t0 = Date.now();
      expect(() => c.read('/x')).to.throw(XsError, /did not answer within 300 ms/);
      expect(Date.now() - t0).to.be.within(250, 3000);
      expect(open().readString('/tx/n')).to.equal('10+');
    } finally {
      server.close();
    }
  });

  it('reconnects when the daemon restarts: watches registered again, old transactions EAGAIN', async () => {
    const xs = open({ reconnectWaitMs: 3000 });
    const events: string[] = [];
    xs.onWatchEvent = (path) => events.push(path);
    xs.watch('/r', 'tok');
    const tx = xs.transactionStart();
    xs.write('/r/in-tx', '1', tx);
    await waitUntil(() => events.length >= 1, 5000, 'the initial watch event');

    await stopDaemon(daemon);
    daemon = await startDaemon(dir, sock);
    // A request outside a transaction waits for the reconnection and goes through.
    xs.write('/r/after', 'x');
    expect(xs.readString('/r/after')).to.equal('x');
    expect(() => xs.transactionEnd(tx, true)).to.throw(XsError).with.property('code', 'EAGAIN');
    // The watch fired again on registration and fires for new writes.
    const other = open();
    other.write('/r/from-other', '1');
    await waitUntil(() => events.includes('/r/from-other'), 5000, 'an event after the restart');
    // And withTransaction works on the new connection.
    withTransaction(xs, (t) => xs.write('/r/tx2', 'y', t));
    expect(other.readString('/r/tx2')).to.equal('y');
  });
});
