import { expect } from 'chai';
import { describeXsError, XenStore, XS_ERRNO, XS_ERROR_CODES, XsError } from '../../../src/xen/xenstore/index.js';
import { expectXsError, makeWorld, text } from './fixtures.js';

describe('xenstore node requests', () => {
  describe('the error vocabulary', () => {
    it('is exactly the xsd_errors[] names, in order, each with its Linux errno and a description', () => {
      expect(XS_ERROR_CODES).to.deep.equal([
        'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO',
        'ENOTEMPTY', 'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
      ]);
      expect(XS_ERROR_CODES.map((c) => XS_ERRNO[c])).to.deep.equal([22, 13, 17, 21, 2, 12, 28, 5, 39, 38, 30, 16, 11, 106, 7, 1]);
      for (const code of XS_ERROR_CODES) expect(describeXsError(code)).to.be.a('string').and.not.equal('');
    });

    it('keeps the code while each layer adds its context', () => {
      const inner = new XsError('EACCES', '');
      const outer = inner.within('dom1 read /x').within('vif 1/0');
      expect(outer.code).to.equal('EACCES');
      expect(outer.errno).to.equal(13);
      expect(outer.message).to.equal('vif 1/0: dom1 read /x: permission denied (EACCES)');
    });
  });

  describe('a new store', () => {
    it('holds what xenstored and xencommons create at boot, all owned by dom0 with no access for others', () => {
      const store = new XenStore();
      expect(store.entries().map((e) => `${e.path} ${e.perms.join(',')}`)).to.deep.equal([
        '/ n0', '/tool n0', '/tool/xenstored n0', '/local n0', '/local/domain n0', '/local/domain/0 n0',
        '/local/domain/0/name n0', '/local/domain/0/domid n0',
      ]);
      expect(store.connect(0).readString('/local/domain/0/name')).to.equal('Domain-0');
    });

    it('treats dom0 as privileged and introduced', () => {
      const store = new XenStore();
      const dom0 = store.connect(0);
      expect(dom0.privileged).to.equal(true);
      expect(store.isDomainIntroduced(0)).to.equal(true);
    });

    it('does not let an unintroduced domain connect unprivileged', () => {
      expectXsError(() => new XenStore().connect(5), 'ENOENT');
    });
  });

  describe('write and read', () => {
    it('returns exactly the bytes written, NULs and all', () => {
      const { dom0 } = makeWorld();
      const value = Buffer.from([0, 1, 2, 0, 255]);
      dom0.write('/data', value);
      expect(dom0.read('/data').equals(value)).to.equal(true);
    });

    it('stores an empty value', () => {
      const { dom0 } = makeWorld();
      dom0.write('/empty', '');
      expect(dom0.read('/empty')).to.have.length(0);
    });

    it('keeps its own copy of the value on both sides', () => {
      const { dom0 } = makeWorld();
      const value = Buffer.from('abc');
      dom0.write('/copy', value);
      value[0] = 0x7a;
      dom0.read('/copy')[1] = 0x7a;
      expect(dom0.readString('/copy')).to.equal('abc');
    });

    it('creates missing parents with empty values', () => {
      const { dom0 } = makeWorld();
      dom0.write('/a/b/c', 'v');
      expect(dom0.readString('/a/b')).to.equal('');
      expect(dom0.directory('/a')).to.deep.equal(['b']);
    });

    it('answers ENOENT for a missing node', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.read('/missing'), 'ENOENT');
    });

    it('gives readString undefined only for ENOENT', () => {
      const { dom0, guest1 } = makeWorld();
      expect(dom0.readString('/missing')).to.equal(undefined);
      expectXsError(() => guest1.readString('/local/domain/0/name'), 'EACCES');
    });

    it('parses integers with readInt and refuses what is not one', () => {
      const { dom0 } = makeWorld();
      dom0.write('/n', '42');
      dom0.write('/neg', '-3');
      dom0.write('/bad', '4x');
      expect(dom0.readInt('/n')).to.equal(42);
      expect(dom0.readInt('/neg')).to.equal(-3);
      expect(dom0.readInt('/none')).to.equal(undefined);
      expectXsError(() => dom0.readInt('/bad'), 'EINVAL');
    });

    it('puts the request and the path into error messages', () => {
      const { guest1 } = makeWorld();
      const err = expectXsError(() => guest1.read('/local/domain/0/name'), 'EACCES');
      expect(err.message).to.equal('dom1 read /local/domain/0/name: permission denied (EACCES)');
    });
  });

  describe('mkdir', () => {
    it('creates an empty node and its parents', () => {
      const { dom0 } = makeWorld();
      dom0.mkdir('/m/n');
      expect(dom0.read('/m/n')).to.have.length(0);
    });

    it('is OK on an existing node and keeps its value', () => {
      const { dom0 } = makeWorld();
      dom0.write('/k', 'kept');
      dom0.mkdir('/k');
      expect(dom0.readString('/k')).to.equal('kept');
    });
  });

  describe('rm', () => {
    it('removes a whole subtree', () => {
      const { dom0 } = makeWorld();
      dom0.write('/t/a/b', '1');
      dom0.write('/t/c', '2');
      dom0.rm('/t');
      expectXsError(() => dom0.read('/t/a/b'), 'ENOENT');
      expectXsError(() => dom0.read('/t'), 'ENOENT');
      expect(dom0.directory('/')).to.not.include('t');
    });

    it('is OK for a missing node whose parent exists', () => {
      const { dom0 } = makeWorld();
      dom0.rm('/local/nothing');
    });

    it('answers ENOENT when the parent is missing too', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.rm('/no/such'), 'ENOENT');
    });

    it('refuses to remove the root', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.rm('/'), 'EINVAL');
    });
  });

  describe('directory', () => {
    it('lists children in creation order', () => {
      const { dom0 } = makeWorld();
      for (const name of ['zeta', 'alpha', 'mid']) dom0.write(`/d/${name}`, '');
      expect(dom0.directory('/d')).to.deep.equal(['zeta', 'alpha', 'mid']);
    });

    it('lists nothing for a leaf', () => {
      const { dom0 } = makeWorld();
      dom0.write('/leaf', 'x');
      expect(dom0.directory('/leaf')).to.deep.equal([]);
    });

    it('moves a re-created child to the end', () => {
      const { dom0 } = makeWorld();
      for (const name of ['a', 'b', 'c']) dom0.write(`/o/${name}`, '');
      dom0.rm('/o/a');
      dom0.write('/o/a', '');
      expect(dom0.directory('/o')).to.deep.equal(['b', 'c', 'a']);
    });
  });

  describe('directory part', () => {
    it('returns the generation and the NUL-separated list with a final extra NUL', () => {
      const { dom0 } = makeWorld();
      dom0.write('/p/device', '');
      dom0.write('/p/bin', '');
      const part = dom0.directoryPart('/p', 0);
      expect(part.complete).to.equal(true);
      expect(part.chunk.toString('latin1')).to.equal('device\0bin\0\0');
      expect(part.generation).to.be.a('number');
    });

    it('counts the offset in bytes, even into the middle of a name', () => {
      const { dom0 } = makeWorld();
      dom0.write('/p/device', '');
      dom0.write('/p/bin', '');
      expect(dom0.directoryPart('/p', 4).chunk.toString('latin1')).to.equal('ce\0bin\0\0');
    });

    it('returns just the terminator past the end', () => {
      const { dom0 } = makeWorld();
      dom0.write('/p/a', '');
      const part = dom0.directoryPart('/p', 100);
      expect(part.chunk.toString('latin1')).to.equal('\0');
      expect(part.complete).to.equal(true);
    });

    it('splits long lists into chunks that fit one message, and they add up to the list', () => {
      const { dom0 } = makeWorld();
      const names = Array.from({ length: 300 }, (_, i) => `child-with-a-long-name-${i}`);
      for (const name of names) dom0.mkdir(`/big/${name}`);
      let offset = 0;
      let all = '';
      const generation = dom0.directoryPart('/big', 0).generation;
      for (;;) {
        const part = dom0.directoryPart('/big', offset);
        expect(part.generation).to.equal(generation);
        expect(`${part.generation}\0`.length + part.chunk.length).to.be.at.most(4096);
        all += part.chunk.toString('latin1');
        offset += part.chunk.length;
        if (part.complete) break;
      }
      expect(all).to.equal(`${names.join('\0')}\0\0`);
    });

    it('changes generation when a child is added', () => {
      const { dom0 } = makeWorld();
      dom0.mkdir('/g');
      const before = dom0.directoryPart('/g', 0).generation;
      dom0.mkdir('/g/new');
      expect(dom0.directoryPart('/g', 0).generation).to.not.equal(before);
    });

    it('rejects a negative offset', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.directoryPart('/', -1), 'EINVAL');
    });
  });

  describe('domain paths', () => {
    it('are /local/domain/<domid> for any domain', () => {
      const { guest1 } = makeWorld();
      expect(guest1.getDomainPath(7)).to.equal('/local/domain/7');
      expectXsError(() => guest1.getDomainPath(-1), 'EINVAL');
    });
  });

  describe('a closed connection', () => {
    it('answers EIO and drops its watches and transactions', () => {
      const { store, guest1 } = makeWorld();
      guest1.watch('x', 't');
      guest1.transactionStart();
      guest1.close();
      guest1.close();
      expectXsError(() => guest1.read('name'), 'EIO');
      expect(store.watches.countForDomain(1)).to.equal(0);
      expect(store.openTransactionCount(1)).to.equal(0);
    });
  });

  describe('the dump', () => {
    it('shows paths, values and permissions like xenstore-ls -f -p', () => {
      const { store, dom0 } = makeWorld();
      dom0.write('/local/domain/1/name', 'guest');
      expect(store.dump()).to.include('/local/domain/1/name = "guest"  (n1)');
      expect(text(dom0.read('/local/domain/1/name'))).to.equal('guest');
    });
  });
});
