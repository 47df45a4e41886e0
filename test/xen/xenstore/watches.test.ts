import { expect } from 'chai';
import { XenStore } from '../../../src/xen/xenstore/index.js';
import { expectXsError, makeWorld, record, settle } from './fixtures.js';

describe('xenstore watches', () => {
  describe('delivery', () => {
    it('fires once at registration with the path as given', async () => {
      const { store, guest1 } = makeWorld();
      const seen = record(guest1);
      guest1.watch('device', 'tok');
      guest1.watch('/local/domain/1/other', 'abs');
      expect(await settle(store, seen)).to.deep.equal([['device', 'tok'], ['/local/domain/1/other', 'abs']]);
    });

    it('never calls back inside the request that caused the event', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/w', 't');
      dom0.write('/w', 'x');
      expect(seen).to.deep.equal([]);
      expect(await settle(store, seen)).to.deep.equal([['/w', 't'], ['/w', 't']]);
    });

    it('lets a callback modify the store, and delivers what that causes afterwards, in order', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.onWatchEvent = (path, token) => {
        seen.push([path, token]);
        if (path === '/chain/1') dom0.write('/chain/2', 'b');
      };
      dom0.watch('/chain', 'c');
      dom0.write('/chain/1', 'a');
      dom0.write('/chain/3', 'c');
      expect(await settle(store, seen)).to.deep.equal([
        ['/chain', 'c'], ['/chain/1', 'c'], ['/chain/3', 'c'], ['/chain/2', 'c'],
      ]);
    });

    it('can be forced synchronously with deliverPendingEvents()', () => {
      const { dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/sync', 's');
      dom0.deliverPendingEvents();
      expect(seen).to.deep.equal([['/sync', 's']]);
    });

    it('drops events for a closed connection', async () => {
      const { store, dom0, guest1 } = makeWorld();
      const seen = record(guest1);
      guest1.watch('x', 't');
      dom0.write('/local/domain/1/x', '1');
      guest1.close();
      expect(await settle(store, seen)).to.deep.equal([]);
    });

    it('reports a throwing callback and goes on with the next event', async () => {
      const errors: unknown[] = [];
      const store = new XenStore({ onWatchCallbackError: (err) => errors.push(err) });
      const dom0 = store.connect(0);
      const seen: string[] = [];
      dom0.onWatchEvent = (path) => {
        seen.push(path);
        if (path === '/boom') throw new Error('callback bug');
      };
      dom0.watch('/boom', 'b');
      dom0.watch('/fine', 'f');
      await store.whenIdle();
      expect(seen).to.deep.equal(['/boom', '/fine']);
      expect(errors).to.have.length(1);
    });
  });

  describe('matching', () => {
    it('fires for the node and its descendants on component boundaries only', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/w/a', 't');
      await settle(store, seen);
      dom0.write('/w/a', '1');
      dom0.write('/w/a/b/c', '2');
      dom0.write('/w/ab', '3');
      dom0.write('/w', '4');
      expect(await settle(store, seen)).to.deep.equal([['/w/a', 't'], ['/w/a/b/c', 't']]);
    });

    it('fires when a watched path that did not exist is created, implicitly or not', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/later/x', 't');
      await settle(store, seen);
      dom0.write('/later/x/y', 'v');
      expect(await settle(store, seen)).to.deep.equal([['/later/x/y', 't']]);
    });

    it('does not fire for parents created implicitly', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/p', 't');
      await settle(store, seen);
      dom0.write('/p/q/r', 'v');
      expect(await settle(store, seen)).to.deep.equal([['/p/q/r', 't']]);
    });

    it('fires for MKDIR only when it creates the node, and for SET_PERMS', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/m', 't');
      await settle(store, seen);
      dom0.mkdir('/m');
      dom0.mkdir('/m');
      dom0.setPerms('/m', ['n0', 'r1']);
      expect(await settle(store, seen)).to.deep.equal([['/m', 't'], ['/m', 't']]);
    });

    it('treats the same path with two tokens as two watches', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/two', 'a');
      dom0.watch('/two', 'b');
      await settle(store, seen);
      dom0.write('/two', 'x');
      expect(await settle(store, seen)).to.deep.equal([['/two', 'a'], ['/two', 'b']]);
    });

    it('sees everything from /', async () => {
      const { store, dom0, guest1 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/', 'root');
      await settle(store, seen);
      guest1.write('x', '1');
      expect(await settle(store, seen)).to.deep.equal([['/local/domain/1/x', 'root']]);
    });
  });

  describe('removed subtrees', () => {
    it('report the removed node to watches on it and above', async () => {
      const { store, dom0 } = makeWorld();
      dom0.write('/r/a/b', '1');
      const seen = record(dom0);
      dom0.watch('/r', 'above');
      dom0.watch('/r/a', 'on');
      await settle(store, seen);
      dom0.rm('/r/a');
      expect(await settle(store, seen)).to.deep.equal([['/r/a', 'above'], ['/r/a', 'on']]);
    });

    it('report each removed descendant to watches placed exactly on it, children first', async () => {
      const { store, dom0 } = makeWorld();
      dom0.write('/r/a/b/c', '1');
      dom0.write('/r/a/d', '2');
      const seen = record(dom0);
      dom0.watch('/r/a/b/c', 'c');
      dom0.watch('/r/a/b', 'b');
      dom0.watch('/r/a/d', 'd');
      dom0.watch('/r/a', 'a');
      await settle(store, seen);
      dom0.rm('/r/a');
      expect(await settle(store, seen)).to.deep.equal([
        ['/r/a/b/c', 'c'], ['/r/a/b', 'b'], ['/r/a/d', 'd'], ['/r/a', 'a'],
      ]);
    });

    it('do not fire for a watch inside the subtree on a node that never existed', async () => {
      const { store, dom0 } = makeWorld();
      dom0.write('/r/a', '1');
      const seen = record(dom0);
      dom0.watch('/r/a/ghost', 'g');
      await settle(store, seen);
      dom0.rm('/r/a');
      expect(await settle(store, seen)).to.deep.equal([]);
    });

    it('fire nothing for RM of a node that does not exist', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/nothing', 'n');
      await settle(store, seen);
      dom0.rm('/nothing');
      expect(await settle(store, seen)).to.deep.equal([]);
    });
  });

  describe('relative watches', () => {
    it('report paths relative to the domain home', async () => {
      const { store, dom0, guest1 } = makeWorld();
      const seen = record(guest1);
      guest1.watch('device', 'rel');
      await settle(store, seen);
      dom0.write('/local/domain/1/device/vif/0/state', '4');
      expect(await settle(store, seen)).to.deep.equal([['device/vif/0/state', 'rel']]);
    });

    it('can be removed by the absolute path and vice versa', () => {
      const { guest1 } = makeWorld();
      guest1.watch('device', 't');
      guest1.unwatch('/local/domain/1/device', 't');
      guest1.watch('/local/domain/1/x', 't');
      guest1.unwatch('x', 't');
    });
  });

  describe('permissions', () => {
    it('keep events about nodes a guest cannot read from it', async () => {
      const { store, dom0, guest1 } = makeWorld();
      const seen = record(guest1);
      guest1.watch('/secret', 's');
      await settle(store, seen);
      dom0.write('/secret', 'x');
      dom0.write('/secret/deeper', 'y');
      expect(await settle(store, seen)).to.deep.equal([]);
    });

    it('let an event through when the node or its parent is readable', async () => {
      const { store, dom0, guest1 } = makeWorld();
      dom0.mkdir('/pub');
      dom0.setPerms('/pub', ['n0', 'r1']);
      dom0.write('/pub/hidden', 'x');
      dom0.setPerms('/pub/hidden', ['n0']);
      dom0.write('/pub/hidden/deeper', 'y');
      const seen = record(guest1);
      guest1.watch('/pub', 'p');
      await settle(store, seen);
      dom0.write('/pub/hidden', 'changed');
      dom0.write('/pub/hidden/deeper', 'changed');
      expect(await settle(store, seen)).to.deep.equal([['/pub/hidden', 'p']]);
    });

    it('tell a watcher that it just lost access', async () => {
      const { store, dom0, guest1 } = makeWorld();
      dom0.write('/lose', 'x');
      dom0.setPerms('/lose', ['n0', 'r1']);
      const seen = record(guest1);
      guest1.watch('/lose', 'l');
      await settle(store, seen);
      dom0.setPerms('/lose', ['n0']);
      dom0.write('/lose', 'y');
      expect(await settle(store, seen)).to.deep.equal([['/lose', 'l']]);
    });
  });

  describe('special paths', () => {
    it('fire @introduceDomain and @releaseDomain for privileged watchers', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('@introduceDomain', 'i');
      dom0.watch('@releaseDomain', 'r');
      await settle(store, seen);
      store.introduceDomain(3);
      store.releaseDomain(3);
      expect(await settle(store, seen)).to.deep.equal([['@introduceDomain', 'i'], ['@releaseDomain', 'r']]);
    });

    it('reach guests only once dom0 grants read on the special node', async () => {
      const { store, dom0, guest1 } = makeWorld();
      const seen = record(guest1);
      guest1.watch('@releaseDomain', 'r');
      expect(await settle(store, seen)).to.deep.equal([['@releaseDomain', 'r']]);
      store.introduceDomain(3);
      store.releaseDomain(3);
      expect(await settle(store, seen)).to.deep.equal([]);
      dom0.setPerms('@releaseDomain', ['n0', 'r1']);
      store.introduceDomain(3);
      store.releaseDomain(3);
      expect(await settle(store, seen)).to.deep.equal([['@releaseDomain', 'r']]);
    });

    it('accept other @ names, which only fire at registration', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('@whatever', 'w');
      expect(await settle(store, seen)).to.deep.equal([['@whatever', 'w']]);
    });
  });

  describe('bookkeeping', () => {
    it('answers EEXIST for the same path and token twice', () => {
      const { dom0 } = makeWorld();
      dom0.watch('/dup', 't');
      expectXsError(() => dom0.watch('/dup', 't'), 'EEXIST');
    });

    it('answers ENOENT when unwatching an unknown pair', () => {
      const { dom0 } = makeWorld();
      dom0.watch('/u', 't');
      expectXsError(() => dom0.unwatch('/u', 'other'), 'ENOENT');
      expectXsError(() => dom0.unwatch('/v', 't'), 'ENOENT');
      dom0.unwatch('/u', 't');
      expectXsError(() => dom0.unwatch('/u', 't'), 'ENOENT');
    });

    it('stops firing after unwatch and after reset', async () => {
      const { store, dom0 } = makeWorld();
      const seen = record(dom0);
      dom0.watch('/a', 'a');
      dom0.watch('/b', 'b');
      await settle(store, seen);
      dom0.unwatch('/a', 'a');
      dom0.write('/a', '1');
      dom0.resetWatches();
      dom0.write('/b', '1');
      expect(await settle(store, seen)).to.deep.equal([]);
    });

    it('rejects invalid watch paths with EINVAL', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.watch('/bad/', 't'), 'EINVAL');
      expectXsError(() => dom0.watch('', 't'), 'EINVAL');
    });
  });
});
