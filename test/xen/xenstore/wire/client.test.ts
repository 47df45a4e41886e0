// The asynchronous wire client against vifd's own socket server: requests and their errors,
// watches, transactions with EAGAIN retries, big directories in parts, and reconnection after
// the daemon restarts.

import { expect } from 'chai';
import { XsError } from '../../../../src/xen/xenstore/index.js';
import { XsClient } from '../../../../src/xen/xenstore/wire/client.js';
import { XenstoreSocketServer } from '../../../../src/xen/xenstore/wire/server.js';
import { serveStore, type ServedStore } from '../../../helpers/xs-wire.js';

async function rejection(p: Promise<unknown>): Promise<XsError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof XsError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('xenstore wire client', () => {
  let s: ServedStore;
  let c: XsClient;

  beforeEach(async () => {
    s = await serveStore();
    c = await XsClient.connect(s.path, { reconnectDelayMs: 10 });
  });

  afterEach(async () => {
    c.close();
    await s.stop();
  });

  it('writes, reads, lists, sets and gets permissions, removes', async () => {
    await c.write('/c/a', 'one');
    await c.write('/c/b', Buffer.from([0, 1, 2]));
    await c.mkdir('/c/d');
    expect((await c.read('/c/a')).toString()).to.equal('one');
    expect([...await c.read('/c/b')]).to.deep.equal([0, 1, 2]);
    expect(await c.directory('/c')).to.deep.equal(['a', 'b', 'd']);
    await c.setPerms('/c/a', ['n0', 'r1']);
    expect(await c.getPerms('/c/a')).to.deep.equal(['n0', 'r1']);
    await c.rm('/c');
    expect(await c.readString('/c/a')).to.equal(undefined);
  });

  it("rejects with the daemon's error code", async () => {
    expect((await rejection(c.read('/missing'))).code).to.equal('ENOENT');
    expect((await rejection(c.write('bad//path', 'x'))).code).to.equal('EINVAL');
    expect((await rejection(c.transactionEnd(77, true))).code).to.equal('ENOENT');
  });

  it('pipelines requests and keeps their answers apart', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.write(`/p/k${i}`, String(i))));
    const values = await Promise.all(Array.from({ length: 50 }, (_, i) => c.read(`/p/k${i}`)));
    expect(values.map((v) => v.toString())).to.deep.equal(Array.from({ length: 50 }, (_, i) => String(i)));
  });

  it('lists a directory too big for one reply in parts', async () => {
    const dom0 = s.store.connect(0);
    const names = Array.from({ length: 300 }, (_, i) => `child-with-a-long-name-${String(i).padStart(3, '0')}`);
    for (const n of names) dom0.write(`/big/${n}`, '');
    dom0.close();
    expect(await c.directory('/big')).to.deep.equal(names);
  });

  it('reports watch events', async () => {
    const seen: string[] = [];
    c.on('watch', (path, token) => seen.push(`${path} ${token}`));
    await c.watch('/w', 'tok');
    await c.write('/w/x', '1');
    await c.unwatch('/w', 'tok');
    await c.write('/w/y', '2');
    await c.read('/w/y');
    expect(seen).to.deep.equal(['/w tok', '/w/x tok']);
  });

  it('retries a transaction that conflicts, and aborts one whose body throws', async () => {
    const other = await XsClient.connect(s.path);
    await c.write('/n', '0');
    let attempts = 0;
    const result = await c.withTransaction(async (tx) => {
      attempts++;
      const n = Number((await c.read('/n', tx)).toString());
      if (attempts === 1) await other.write('/n', '10');
      await c.write('/n', String(n + 1), tx);
      return n + 1;
    });
    expect(attempts).to.equal(2);
    expect(result).to.equal(11);
    expect((await c.read('/n')).toString()).to.equal('11');
    const err = await c.withTransaction(async (tx) => {
      await c.write('/n', 'never', tx);
      throw new Error('changed my mind');
    }).catch((e: Error) => e);
    expect((err as Error).message).to.equal('changed my mind');
    expect((await c.read('/n')).toString()).to.equal('11');
    expect(s.store.openTransactionCount(0)).to.equal(0);
    other.close();
  });

  it('reconnects when the daemon restarts: requests in flight fail with EIO, watches come back', async () => {
    const seen: string[] = [];
    c.on('watch', (path) => seen.push(path));
    await c.watch('/r', 'tok');
    const store = s.store;
    const disconnected = new Promise<void>((r) => c.once('disconnected', () => r()));
    const reconnected = new Promise<void>((r) => c.once('reconnected', () => r()));
    await s.server.close();
    await disconnected;
    expect((await rejection(c.read('/r'))).code).to.equal('EIO');
    const again = await XenstoreSocketServer.listen(store, { path: s.path });
    await reconnected;
    await c.write('/r/x', 'after');
    expect((await c.read('/r/x')).toString()).to.equal('after');
    expect(seen).to.deep.equal(['/r', '/r', '/r/x']);
    c.close();
    await again.close();
  });

  it('fails requests with EIO once closed', async () => {
    c.close();
    expect((await rejection(c.read('/x'))).code).to.equal('EIO');
  });
});
