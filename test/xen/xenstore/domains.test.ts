import { expect } from 'chai';
import { XenStore } from '../../../src/xen/xenstore/index.js';
import { addGuest, expectXsError, makeWorld, record, settle } from './fixtures.js';

describe('xenstore domains', () => {
  describe('introduction', () => {
    it('marks the domain introduced and fires @introduceDomain once', async () => {
      const store = new XenStore();
      const dom0 = store.connect(0);
      const seen = record(dom0);
      dom0.watch('@introduceDomain', 'i');
      await settle(store, seen);
      expect(dom0.isDomainIntroduced(4)).to.equal(false);
      dom0.introduce(4);
      dom0.introduce(4);
      dom0.introduce(0);
      expect(dom0.isDomainIntroduced(4)).to.equal(true);
      expect(await settle(store, seen)).to.deep.equal([['@introduceDomain', 'i']]);
    });

    it('refuses reserved domain ids', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.introduce(0x7ff0), 'EINVAL');
      expectXsError(() => dom0.introduce(-1), 'EINVAL');
    });
  });

  describe('privileged requests', () => {
    it('answer EACCES to unprivileged domains', () => {
      const { guest1 } = makeWorld();
      expectXsError(() => guest1.introduce(5), 'EACCES');
      expectXsError(() => guest1.release(2), 'EACCES');
      expectXsError(() => guest1.isDomainIntroduced(2), 'EACCES');
      expectXsError(() => guest1.resume(2), 'EACCES');
      expectXsError(() => guest1.setTarget(1, 2), 'EACCES');
    });

    it('may come from a privileged connection of another domain (a driver domain)', () => {
      const store = new XenStore();
      const driver = store.connect(9, { privileged: true });
      driver.introduce(3);
      expect(driver.isDomainIntroduced(3)).to.equal(true);
    });
  });

  describe('release', () => {
    it('answers EINVAL for dom0 and ENOENT for a domain that is not introduced', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.release(0), 'EINVAL');
      expectXsError(() => dom0.release(42), 'ENOENT');
      expectXsError(() => dom0.resume(42), 'ENOENT');
      dom0.resume(1);
    });

    it('deletes every node the domain owns, wherever it is, with its subtree', () => {
      const { store, dom0, guest1 } = makeWorld();
      dom0.mkdir('/pool');
      dom0.setPerms('/pool', ['n0', 'b1']);
      guest1.write('/pool/mine/deep', 'x');
      dom0.write('/pool/mine/deep/dom0-child', 'y');
      dom0.write('/backend/vif/1/0/state', '4');
      dom0.setPerms('/backend/vif/1/0', ['n0', 'r1']);
      store.releaseDomain(1);
      const paths = store.entries().map((e) => e.path);
      expect(paths.filter((p) => p.startsWith('/local/domain/1') || p.startsWith('/pool/'))).to.deep.equal([]);
      expect(paths).to.include('/pool');
      expect(paths).to.include('/backend/vif/1/0/state');
    });

    it('removes the domain from the permission lists of the nodes that remain (XSA-322)', () => {
      const { store, dom0 } = makeWorld();
      dom0.write('/be', 'x');
      dom0.setPerms('/be', ['n0', 'r1', 'r2']);
      store.releaseDomain(1);
      expect(dom0.getPerms('/be')).to.deep.equal(['n0', 'r2']);
      store.introduceDomain(1);
      const reborn = store.connect(1);
      expectXsError(() => reborn.read('/be'), 'EACCES');
    });

    it('tells watchers about each removed node, then fires @releaseDomain', async () => {
      const { store, dom0 } = makeWorld();
      dom0.write('/local/domain/1/device/vif/0/state', '4');
      const seen = record(dom0);
      dom0.watch('/local/domain/1/device', 'dev');
      dom0.watch('@releaseDomain', 'rel');
      await settle(store, seen);
      store.releaseDomain(1);
      expect(await settle(store, seen)).to.deep.equal([['/local/domain/1/device', 'dev'], ['@releaseDomain', 'rel']]);
    });

    it('closes the domain’s connections, whose watches hear nothing more', async () => {
      const { store, dom0, guest1 } = makeWorld();
      guest1.write('device/x', '1');
      const seen = record(guest1);
      guest1.watch('device', 'home');
      await settle(store, seen);
      store.releaseDomain(1);
      expect(guest1.closed).to.equal(true);
      expect(await settle(store, seen)).to.deep.equal([]);
      expectXsError(() => guest1.read('x'), 'EIO');
      expect(dom0.isDomainIntroduced(1)).to.equal(false);
      expectXsError(() => store.connect(1), 'ENOENT');
    });

    it('drops the transactions of the released domain', () => {
      const { store, guest1 } = makeWorld();
      guest1.transactionStart();
      store.releaseDomain(1);
      expect(store.openTransactionCount(1)).to.equal(0);
    });
  });

  describe('targets', () => {
    it('give a device-model domain the rights of the domain it serves', () => {
      const { store, dom0, guest1 } = makeWorld();
      const stub = addGuest(store, dom0, 3);
      guest1.write('secret', 's');
      expectXsError(() => stub.read('/local/domain/1/secret'), 'EACCES');
      dom0.setTarget(3, 1);
      expect(stub.readString('/local/domain/1/secret')).to.equal('s');
    });

    it('need both domains introduced', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.setTarget(1, 9), 'ENOENT');
    });

    it('end when either domain is released', () => {
      const { store, dom0, guest1 } = makeWorld();
      const stub = addGuest(store, dom0, 3);
      guest1.write('secret', 's');
      dom0.setTarget(3, 1);
      store.releaseDomain(1);
      expect(stub.target).to.equal(undefined);
    });
  });
});
