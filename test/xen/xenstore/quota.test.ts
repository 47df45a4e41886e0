import { expect } from 'chai';
import { DEFAULT_QUOTAS, XenStore } from '../../../src/xen/xenstore/index.js';
import { addGuest, expectXsError, makeWorld } from './fixtures.js';

describe('xenstore quotas', () => {
  it('default to cx 4.17 values', () => {
    expect(DEFAULT_QUOTAS).to.deep.equal({
      nodesPerDomain: 1000, entrySize: 2048, watchesPerDomain: 128, transactionsPerDomain: 10,
      permsPerNode: 5, nodesPerTransaction: 1024, pathMax: 2048,
    });
  });

  it('refuse nonsense settings', () => {
    expect(() => new XenStore({ quotas: { watchesPerDomain: -1 } })).to.throw(RangeError);
  });

  describe('nodes per domain', () => {
    it('let a guest own 1000 nodes by default and refuse the next with ENOSPC', () => {
      const { guest1 } = makeWorld();
      // Spread over directories: one directory's child list alone would hit the entry size.
      let owned = 1;
      for (let i = 0; owned < 1000; i++, owned++) guest1.mkdir(i % 32 === 0 ? `g${i}` : `g${i - (i % 32)}/n${i}`);
      const err = expectXsError(() => guest1.mkdir('one-too-many'), 'ENOSPC');
      expect(err.message).to.include('owns 1000 nodes');
    });

    it('count implicitly created parents and create nothing when the quota is short', () => {
      const { dom0, guest1 } = makeWorld({ quotas: { nodesPerDomain: 4 } });
      guest1.write('a', '1');
      expectXsError(() => guest1.write('x/y/z', '1'), 'ENOSPC');
      expect(dom0.directory('/local/domain/1')).to.deep.equal(['a']);
      guest1.write('x/y', '1');
    });

    it('are freed again by RM', () => {
      const { guest1 } = makeWorld({ quotas: { nodesPerDomain: 3 } });
      guest1.write('a/b', '1');
      expectXsError(() => guest1.write('c', '1'), 'ENOSPC');
      guest1.rm('a');
      guest1.write('c', '1');
    });

    it('do not bind dom0, even when it creates nodes owned by a guest', () => {
      const { dom0, guest1 } = makeWorld({ quotas: { nodesPerDomain: 2 } });
      for (let i = 0; i < 5; i++) dom0.write(`/local/domain/1/by-dom0-${i}`, 'x');
      expectXsError(() => guest1.write('mine', '1'), 'ENOSPC');
    });

    it('count what a transaction creates, and are checked again at commit', () => {
      const { guest1 } = makeWorld({ quotas: { nodesPerDomain: 3 } });
      const t1 = guest1.transactionStart();
      const t2 = guest1.transactionStart();
      guest1.write('a', '1', t1);
      guest1.write('b', '1', t1);
      expectXsError(() => guest1.write('c', '1', t1), 'ENOSPC');
      guest1.write('d', '1', t2);
      guest1.write('e', '1', t2);
      guest1.transactionEnd(t1, true);
      expectXsError(() => guest1.transactionEnd(t2, true), 'ENOSPC');
      expect(guest1.directory('/local/domain/1')).to.deep.equal(['a', 'b']);
    });
  });

  describe('entry size', () => {
    it('charge a node like cx does: 24 + 8 per permission + value + child names', () => {
      const { guest1 } = makeWorld();
      guest1.write('fits', Buffer.alloc(2015));
      expectXsError(() => guest1.write('too-big', Buffer.alloc(2016)), 'ENOSPC');
      guest1.write('dir', '');
      guest1.setPerms('dir', ['n1', 'r0', 'r2']);
      expectXsError(() => guest1.write('dir', Buffer.alloc(2000)), 'ENOSPC');
    });

    it('count a directory’s child list', () => {
      const { guest1 } = makeWorld({ quotas: { entrySize: 100 } });
      // /local/domain/1 is charged 24 + 8 = 32 bytes, so 67 bytes of names still fit.
      guest1.mkdir('a'.repeat(40));
      guest1.mkdir('b'.repeat(25));
      expectXsError(() => guest1.mkdir('c'), 'ENOSPC');
    });

    it('do not bind dom0', () => {
      const { dom0 } = makeWorld();
      dom0.write('/local/domain/1/big', Buffer.alloc(4000));
    });
  });

  describe('watches per domain', () => {
    it('allow 128 and answer E2BIG for the next, counting every connection of the domain', () => {
      const { store, guest1 } = makeWorld();
      const second = store.connect(1);
      for (let i = 0; i < 100; i++) guest1.watch(`w${i}`, 't');
      for (let i = 100; i < 128; i++) second.watch(`w${i}`, 't');
      expectXsError(() => guest1.watch('one-more', 't'), 'E2BIG');
      expectXsError(() => second.watch('one-more', 't'), 'E2BIG');
      second.unwatch('w100', 't');
      guest1.watch('one-more', 't');
    });

    it('do not bind dom0', () => {
      const { dom0 } = makeWorld();
      for (let i = 0; i < 200; i++) dom0.watch(`/w${i}`, 't');
    });
  });

  describe('open transactions per domain', () => {
    it('allow 10 and answer ENOSPC for the next until one ends', () => {
      const { guest1 } = makeWorld();
      const ids = Array.from({ length: 10 }, () => guest1.transactionStart());
      expectXsError(() => guest1.transactionStart(), 'ENOSPC');
      guest1.transactionEnd(ids[0]!, false);
      guest1.transactionStart();
    });

    it('do not bind dom0', () => {
      const { dom0 } = makeWorld();
      for (let i = 0; i < 20; i++) dom0.transactionStart();
    });
  });

  describe('permissions per node', () => {
    it('allow 5 entries and answer ENOSPC for 6 from a guest', () => {
      const { dom0, guest1 } = makeWorld();
      guest1.write('p', '');
      guest1.setPerms('p', ['n1', 'r2', 'r3', 'r4', 'r5']);
      expectXsError(() => guest1.setPerms('p', ['n1', 'r2', 'r3', 'r4', 'r5', 'r6']), 'ENOSPC');
      dom0.setPerms('/local/domain/1/p', ['n1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
    });
  });

  describe('nodes per transaction', () => {
    it('answer ENOSPC beyond the limit and doom the transaction (its commit says ENOMEM, as cx)', () => {
      const store = new XenStore({ quotas: { nodesPerTransaction: 5 } });
      const dom0 = store.connect(0);
      const guest = addGuest(store, dom0, 1);
      for (let i = 0; i < 6; i++) guest.write(`k${i}`, 'v');
      const tx = guest.transactionStart();
      for (let i = 0; i < 5; i++) guest.read(`k${i}`, tx);
      expectXsError(() => guest.read('k5', tx), 'ENOSPC');
      expectXsError(() => guest.transactionEnd(tx, true), 'ENOMEM');
    });
  });
});
