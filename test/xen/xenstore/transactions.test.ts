import { expect } from 'chai';
import { withTransaction, XsError } from '../../../src/xen/xenstore/index.js';
import { expectXsError, makeWorld, record, settle } from './fixtures.js';

describe('xenstore transactions', () => {
  describe('ids', () => {
    it('count from 1 per connection', () => {
      const { dom0, guest1 } = makeWorld();
      expect(dom0.transactionStart()).to.equal(1);
      expect(dom0.transactionStart()).to.equal(2);
      expect(guest1.transactionStart()).to.equal(1);
    });

    it('answer ENOENT when unknown, ended, 0, or another connection’s', () => {
      const { dom0, guest1 } = makeWorld();
      const tx = dom0.transactionStart();
      expectXsError(() => guest1.read('name', tx + 5), 'ENOENT');
      expectXsError(() => dom0.transactionEnd(99, true), 'ENOENT');
      expectXsError(() => dom0.transactionEnd(0, true), 'ENOENT');
      expectXsError(() => guest1.transactionEnd(tx, true), 'ENOENT');
      dom0.transactionEnd(tx, false);
      expectXsError(() => dom0.transactionEnd(tx, false), 'ENOENT');
      expectXsError(() => dom0.write('/x', 'v', tx), 'ENOENT');
    });

    it('report an unknown transaction before a bad path', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.read('/bad/', 42), 'ENOENT');
    });

    it('answer EBUSY when a transaction is started inside one', () => {
      const { dom0 } = makeWorld();
      const tx = dom0.transactionStart();
      expectXsError(() => dom0.transactionStart(tx), 'EBUSY');
      expectXsError(() => dom0.transactionStart(tx + 1), 'ENOENT');
    });
  });

  describe('isolation', () => {
    it('hides writes from others until commit', () => {
      const { dom0, guest1 } = makeWorld();
      const tx = guest1.transactionStart();
      guest1.write('state', '3', tx);
      expect(dom0.readString('/local/domain/1/state')).to.equal(undefined);
      guest1.transactionEnd(tx, true);
      expect(dom0.readString('/local/domain/1/state')).to.equal('3');
    });

    it('shows the transaction its own writes, removals and permission changes', () => {
      const { dom0 } = makeWorld();
      dom0.write('/own/old', 'x');
      const tx = dom0.transactionStart();
      dom0.write('/own/new/deep', 'y', tx);
      dom0.rm('/own/old', tx);
      dom0.setPerms('/own', ['n0', 'r1'], tx);
      expect(dom0.readString('/own/new/deep', tx)).to.equal('y');
      expect(dom0.directory('/own', tx)).to.deep.equal(['new']);
      expect(dom0.readString('/own/old', tx)).to.equal(undefined);
      expect(dom0.getPerms('/own', tx)).to.deep.equal(['n0', 'r1']);
      expect(dom0.directory('/own')).to.deep.equal(['old']);
    });

    it('reads a snapshot: changes committed after the start stay invisible', () => {
      const { dom0 } = makeWorld();
      dom0.write('/snap/a', '1');
      const tx = dom0.transactionStart();
      dom0.write('/snap/a', '2');
      dom0.write('/snap/b', 'new');
      dom0.rm('/local/domain/1');
      expect(dom0.readString('/snap/a', tx)).to.equal('1');
      expect(dom0.directory('/snap', tx)).to.deep.equal(['a']);
      expect(dom0.directory('/local/domain/1', tx)).to.deep.equal([]);
      expect(dom0.readString('/snap/a')).to.equal('2');
    });

    it('judges permissions by the snapshot too', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.write('/open', 'x');
      dom0.setPerms('/open', ['n0', 'r1']);
      const tx = guest1.transactionStart();
      dom0.setPerms('/open', ['n0']);
      expect(guest1.readString('/open', tx)).to.equal('x');
      expectXsError(() => guest1.read('/open'), 'EACCES');
    });

    it('keeps the snapshot of every open transaction separately', () => {
      const { dom0 } = makeWorld();
      dom0.write('/v', '0');
      const t1 = dom0.transactionStart();
      dom0.write('/v', '1');
      const t2 = dom0.transactionStart();
      dom0.write('/v', '2');
      expect(dom0.readString('/v', t1)).to.equal('0');
      expect(dom0.readString('/v', t2)).to.equal('1');
      expect(dom0.readString('/v')).to.equal('2');
    });
  });

  describe('commit', () => {
    it('fails with EAGAIN when a node it read has changed, and applies nothing', () => {
      const { dom0, guest1 } = makeWorld();
      guest1.write('counter', '1');
      const tx = guest1.transactionStart();
      const n = guest1.readInt('counter', tx)!;
      guest1.write('counter', String(n + 1), tx);
      guest1.write('other', 'x', tx);
      dom0.write('/local/domain/1/counter', '10');
      expectXsError(() => guest1.transactionEnd(tx, true), 'EAGAIN');
      expect(guest1.readString('counter')).to.equal('10');
      expect(guest1.readString('other')).to.equal(undefined);
      expectXsError(() => guest1.transactionEnd(tx, false), 'ENOENT');
    });

    it('fails with EAGAIN when a node it found missing was created meanwhile', () => {
      const { dom0 } = makeWorld();
      const tx = dom0.transactionStart();
      expect(dom0.readString('/flag', tx)).to.equal(undefined);
      dom0.write('/flag', 'set');
      expectXsError(() => dom0.transactionEnd(tx, true), 'EAGAIN');
    });

    it('fails with EAGAIN when a directory it listed gained a child', () => {
      const { dom0 } = makeWorld();
      dom0.mkdir('/dir');
      const tx = dom0.transactionStart();
      dom0.directory('/dir', tx);
      dom0.mkdir('/dir/new');
      expectXsError(() => dom0.transactionEnd(tx, true), 'EAGAIN');
    });

    it('fails with EAGAIN even if the value read was rewritten unchanged (generations, as cx)', () => {
      const { dom0 } = makeWorld();
      dom0.write('/same', 'v');
      const tx = dom0.transactionStart();
      dom0.read('/same', tx);
      dom0.write('/same', 'v');
      expectXsError(() => dom0.transactionEnd(tx, true), 'EAGAIN');
    });

    it('succeeds when only unrelated nodes changed', () => {
      const { dom0 } = makeWorld();
      dom0.write('/mine', 'a');
      const tx = dom0.transactionStart();
      dom0.read('/mine', tx);
      dom0.write('/mine', 'b', tx);
      dom0.write('/unrelated', 'x');
      dom0.transactionEnd(tx, true);
      expect(dom0.readString('/mine')).to.equal('b');
    });

    it('does not conflict on nodes it only wrote: the later commit wins', () => {
      const { dom0, guest1 } = makeWorld();
      guest1.write('state', '1');
      const tx = guest1.transactionStart();
      guest1.write('state', '4', tx);
      guest1.write('new/key', 'k', tx);
      dom0.write('/local/domain/1/state', '5');
      dom0.write('/local/domain/1/new/sibling', 's');
      guest1.transactionEnd(tx, true);
      expect(guest1.readString('state')).to.equal('4');
      expect(guest1.directory('new')).to.deep.equal(['sibling', 'key']);
    });

    it('fails with EAGAIN when a blind write has lost its permission meanwhile', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.write('/shared/x', '0');
      dom0.setPerms('/shared/x', ['n0', 'b1']);
      const tx = guest1.transactionStart();
      guest1.write('/shared/x', '1', tx);
      dom0.setPerms('/shared/x', ['n0', 'r1']);
      expectXsError(() => guest1.transactionEnd(tx, true), 'EAGAIN');
      expect(dom0.readString('/shared/x')).to.equal('0');
    });

    it('removes at commit what exists then, including children created meanwhile', () => {
      const { dom0 } = makeWorld();
      dom0.write('/gone/a', '1');
      const tx = dom0.transactionStart();
      dom0.rm('/gone', tx);
      dom0.write('/gone/b', '2');
      dom0.transactionEnd(tx, true);
      expectXsError(() => dom0.read('/gone'), 'ENOENT');
      expect(dom0.directory('/')).to.not.include('gone');
    });

    it('leaves no trace when aborted, even after a conflict', () => {
      const { store, dom0 } = makeWorld();
      const before = store.dump();
      dom0.write('/x', '1');
      const tx = dom0.transactionStart();
      dom0.read('/x', tx);
      dom0.write('/y', '2', tx);
      dom0.rm('/x');
      dom0.transactionEnd(tx, false);
      expect(store.dump()).to.equal(before);
    });

    it('keeps the failure code of a request inside the transaction', () => {
      const { guest1 } = makeWorld();
      const tx = guest1.transactionStart();
      expectXsError(() => guest1.read('/local/domain/0/name', tx), 'EACCES');
      expectXsError(() => guest1.read('missing', tx), 'ENOENT');
      guest1.transactionEnd(tx, true);
    });
  });

  describe('watch events', () => {
    it('are queued at commit only, one per change as outside a transaction', async () => {
      const { store, dom0 } = makeWorld();
      dom0.write('/ev/old/child', 'x');
      const seen = record(dom0);
      dom0.watch('/ev', 'e');
      dom0.watch('/ev/old/child', 'c');
      await settle(store, seen);
      const tx = dom0.transactionStart();
      dom0.write('/ev/a', '1', tx);
      dom0.write('/ev/a', '2', tx);
      dom0.rm('/ev/old', tx);
      await store.whenIdle();
      expect(seen).to.deep.equal([]);
      dom0.transactionEnd(tx, true);
      expect(await settle(store, seen)).to.deep.equal([
        ['/ev/a', 'e'], ['/ev/old/child', 'c'], ['/ev/old', 'e'],
      ]);
    });

    it('are dropped when the transaction aborts or conflicts', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/drop', 'd');
      await settle(store, seen);
      const t1 = dom0.transactionStart();
      dom0.write('/drop/x', '1', t1);
      dom0.transactionEnd(t1, false);
      const t2 = dom0.transactionStart();
      dom0.readString('/drop', t2);
      dom0.write('/drop/y', '1', t2);
      dom0.write('/drop', 'z');
      expect(() => dom0.transactionEnd(t2, true)).to.throw(XsError, /EAGAIN/);
      expect(await settle(store, seen)).to.deep.equal([['/drop', 'd']]);
    });
  });

  describe('lifetime', () => {
    it('ends with RESET_WATCHES (cx 4.17) and with close', () => {
      const { dom0 } = makeWorld();
      const tx = dom0.transactionStart();
      dom0.resetWatches();
      expectXsError(() => dom0.read('/', tx), 'ENOENT');
    });
  });

  describe('withTransaction', () => {
    it('commits what the callback wrote and returns its result', () => {
      const { dom0 } = makeWorld();
      const result = withTransaction(dom0, (tx) => {
        dom0.write('/wt/a', '1', tx);
        return 'done';
      });
      expect(result).to.equal('done');
      expect(dom0.readString('/wt/a')).to.equal('1');
    });

    it('retries on EAGAIN', () => {
      const { dom0, guest1 } = makeWorld();
      guest1.write('n', '0');
      let attempts = 0;
      withTransaction(guest1, (tx) => {
        attempts++;
        const n = guest1.readInt('n', tx)!;
        if (attempts === 1) dom0.write('/local/domain/1/n', '10');
        guest1.write('n', String(n + 1), tx);
      });
      expect(attempts).to.equal(2);
      expect(guest1.readString('n')).to.equal('11');
    });

    it('aborts and rethrows when the callback throws', () => {
      const { dom0 } = makeWorld();
      expect(() => withTransaction(dom0, (tx) => {
        dom0.write('/never', '1', tx);
        throw new Error('changed my mind');
      })).to.throw('changed my mind');
      expect(dom0.readString('/never')).to.equal(undefined);
      expect(dom0.openTransactionCount).to.equal(0);
    });

    it('gives up with EAGAIN after the given number of attempts', () => {
      const { dom0 } = makeWorld();
      dom0.write('/hot', '0');
      expectXsError(() => withTransaction(dom0, (tx) => {
        dom0.read('/hot', tx);
        dom0.write('/hot', 'other');
      }, 3), 'EAGAIN');
    });
  });
});
