import { expect } from 'chai';
import { type GuestXs, inTransaction, readString, SerialQueue, XsWatches } from '../../src/guest/xs.js';

/** Just enough of a connection to drive the helpers; every call is logged. */
function fakeXs(opts: { conflicts?: number } = {}) {
  let conflicts = opts.conflicts ?? 0;
  const calls: string[] = [];
  const xs: GuestXs & { calls: string[] } = {
    calls,
    onWatchEvent: null,
    read: (path) => {
      calls.push(`read ${path}`);
      if (path === '/missing') throw Object.assign(new Error('no'), { code: 'ENOENT' });
      if (path === '/denied') throw Object.assign(new Error('no'), { code: 'EACCES' });
      return Buffer.from('value');
    },
    write: (path, value, tx) => { calls.push(`write ${path}=${value} tx=${String(tx)}`); },
    rm: () => undefined,
    directory: () => [],
    watch: (path, token) => { calls.push(`watch ${path} ${token}`); },
    unwatch: (path, token) => { calls.push(`unwatch ${path} ${token}`); },
    transactionStart: () => { calls.push('start'); return 7; },
    transactionEnd: async (_tx, commit) => {
      calls.push(commit ? 'commit' : 'abort');
      if (commit && conflicts > 0) {
        conflicts--;
        throw Object.assign(new Error('conflict'), { code: 'EAGAIN' });
      }
    },
  };
  return xs;
}

describe('guest xenstore helpers', () => {
  it('reads a missing node as undefined and rethrows anything else', async () => {
    const xs = fakeXs();
    expect(await readString(xs, '/x')).to.equal('value');
    expect(await readString(xs, '/missing')).to.equal(undefined);
    const err = await readString(xs, '/denied').catch((e: unknown) => e);
    expect(err).to.have.property('code', 'EACCES');
  });

  it('retries a transaction on EAGAIN, running the body again each time', async () => {
    const xs = fakeXs({ conflicts: 2 });
    const retries: number[] = [];
    const result = await inTransaction(xs, async (tx) => {
      await xs.write('/a', '1', tx);
      return 'done';
    }, { onRetry: (n) => retries.push(n) });
    expect(result).to.equal('done');
    expect(retries).to.deep.equal([1, 2]);
    expect(xs.calls.filter((c) => c === 'commit')).to.have.length(3);
  });

  it('gives up after maxAttempts conflicts with an error that says so', async () => {
    const xs = fakeXs({ conflicts: 5 });
    const err = await inTransaction(xs, async () => undefined, { maxAttempts: 3 }).catch((e: unknown) => e);
    expect(String(err)).to.match(/still conflicting after 3 attempts/);
  });

  it('aborts the transaction when the body fails and reports the body error', async () => {
    const xs = fakeXs();
    const err = await inTransaction(xs, async () => { throw new Error('body failed'); }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('body failed');
    expect(xs.calls).to.deep.equal(['start', 'abort']);
  });

  it('routes watch events by token and leaves foreign tokens to the previous callback', async () => {
    const xs = fakeXs();
    const foreign: string[] = [];
    xs.onWatchEvent = (path, token) => foreign.push(`${path} ${token}`);
    const watches = new XsWatches(xs, 'g1', () => undefined);
    const seen: string[] = [];
    const handle = await watches.add('/a', (p) => seen.push(p));
    xs.onWatchEvent!('/a/b', handle.token);
    xs.onWatchEvent!('/z', 'someone-else');
    expect(seen).to.deep.equal(['/a/b']);
    expect(foreign).to.deep.equal(['/z someone-else']);
    await handle.remove();
    xs.onWatchEvent!('/a', handle.token);
    expect(seen).to.have.length(1);
    expect(xs.calls).to.include(`unwatch /a ${handle.token}`);
  });

  it('keeps a throwing watch handler away from the store', async () => {
    const xs = fakeXs();
    const logged: string[] = [];
    const watches = new XsWatches(xs, 'g1', (l) => logged.push(l));
    const handle = await watches.add('/a', () => { throw new Error('boom'); });
    expect(() => xs.onWatchEvent!('/a', handle.token)).to.not.throw();
    expect(logged[0]).to.match(/boom/);
    watches.dispose();
    expect(xs.onWatchEvent).to.equal(null);
  });

  it('runs queued steps one at a time, in order, past failures', async () => {
    const errors: unknown[] = [];
    const q = new SerialQueue((e) => errors.push(e));
    const order: string[] = [];
    void q.run(async () => { await new Promise((r) => setTimeout(r, 5)); order.push('a'); });
    void q.run(() => { throw new Error('b'); });
    void q.run(() => { order.push('c'); });
    await q.idle();
    expect(order).to.deep.equal(['a', 'c']);
    expect(errors).to.have.length(1);
  });
});
