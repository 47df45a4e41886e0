import { expect } from 'chai';
import { XsError } from '../../../src/xen/xenstore/errors.js';
import {
  ancestorsOf, isSameOrDescendant, isValidNodePath, parentPath, relativeToDomain, resolveNodePath, resolveWatchPath,
} from '../../../src/xen/xenstore/path.js';
import { expectXsError, makeWorld } from './fixtures.js';

describe('xenstore paths', () => {
  describe('validation', () => {
    it('accepts absolute paths made of A-Z a-z 0-9 - / _ @', () => {
      for (const p of ['/', '/a', '/local/domain/0/backend/qnic/1/0', '/A-z_9', '/x@y']) {
        expect(isValidNodePath(p), p).to.equal(true);
      }
    });

    it('rejects empty paths, trailing slashes, double slashes and other characters', () => {
      for (const p of ['', '/a/', '//a', '/a//b', '/a b', '/a.b', '/a\0b', '/é', 'a']) {
        expect(isValidNodePath(p), JSON.stringify(p)).to.equal(false);
      }
    });

    it('counts 2048 characters after /local/domain/<id>/ or of the whole path otherwise (cx 4.17)', () => {
      expect(isValidNodePath(`/${'a'.repeat(2047)}`)).to.equal(true);
      expect(isValidNodePath(`/${'a'.repeat(2048)}`)).to.equal(false);
      expect(isValidNodePath(`/local/domain/0/${'a'.repeat(2048)}`)).to.equal(true);
      expect(isValidNodePath(`/local/domain/0/${'a'.repeat(2049)}`)).to.equal(false);
      expect(isValidNodePath(`/local/domain/12345/${'a'.repeat(2040)}`)).to.equal(true);
      // Six digits do not match cx's %5u, so the whole path counts.
      expect(isValidNodePath(`/local/domain/123456/${'a'.repeat(2040)}`)).to.equal(false);
    });

    it('answers EINVAL for invalid paths in every node request', () => {
      const { guest1 } = makeWorld();
      expectXsError(() => guest1.read('/a/'), 'EINVAL');
      expectXsError(() => guest1.write('//x', 'v'), 'EINVAL');
      expectXsError(() => guest1.mkdir('/a b'), 'EINVAL');
      expectXsError(() => guest1.rm(''), 'EINVAL');
      expectXsError(() => guest1.directory('/x/'), 'EINVAL');
      expectXsError(() => guest1.getPerms('/x\0y'), 'EINVAL');
    });

    it('refuses to read, write, list or get the permissions of the special @ paths (cx)', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.read('@releaseDomain'), 'EINVAL');
      expectXsError(() => dom0.write('@introduceDomain', 'x'), 'EINVAL');
      expectXsError(() => dom0.directory('@releaseDomain'), 'EINVAL');
      expectXsError(() => dom0.getPerms('@releaseDomain'), 'EINVAL');
    });
  });

  describe('relative paths', () => {
    it('resolve below /local/domain/<domid> of the connection, dom0 included', () => {
      expect(resolveNodePath('device/vif/0', 7)).to.equal('/local/domain/7/device/vif/0');
      expect(resolveNodePath('name', 0)).to.equal('/local/domain/0/name');
      expect(resolveNodePath('/abs', 7)).to.equal('/abs');
    });

    it('cannot be empty', () => {
      expect(() => resolveNodePath('', 3)).to.throw(XsError, /EINVAL/);
    });

    it('reach the same node as the absolute path', () => {
      const { guest1 } = makeWorld();
      guest1.write('data/x', 'hello');
      expect(guest1.readString('/local/domain/1/data/x')).to.equal('hello');
    });

    it('are reported relative again for relative watches', () => {
      expect(relativeToDomain('/local/domain/7/device/vif', 7)).to.equal('device/vif');
      expect(resolveWatchPath('device', 7)).to.deep.equal({ path: '/local/domain/7/device', relative: true });
      expect(resolveWatchPath('/device', 7)).to.deep.equal({ path: '/device', relative: false });
    });
  });

  describe('watch paths', () => {
    it('accept any @ name up to 2048 characters, and nothing longer', () => {
      expect(resolveWatchPath('@releaseDomain', 1)).to.deep.equal({ path: '@releaseDomain', relative: false });
      expect(resolveWatchPath(`@${'x'.repeat(2047)}`, 1).path).to.have.length(2048);
      expect(() => resolveWatchPath(`@${'x'.repeat(2048)}`, 1)).to.throw(XsError, /EINVAL/);
    });
  });

  describe('component boundaries', () => {
    it('treat a path as below another only at a slash', () => {
      expect(isSameOrDescendant('/w/a', '/w/a')).to.equal(true);
      expect(isSameOrDescendant('/w/a/b', '/w/a')).to.equal(true);
      expect(isSameOrDescendant('/w/ab', '/w/a')).to.equal(false);
      expect(isSameOrDescendant('/w', '/w/a')).to.equal(false);
    });

    it('put everything below /, even the special names (cx is_child)', () => {
      expect(isSameOrDescendant('/anything', '/')).to.equal(true);
      expect(isSameOrDescendant('@releaseDomain', '/')).to.equal(true);
    });

    it('give parents and ancestors up to the root', () => {
      expect(parentPath('/a/b/c')).to.equal('/a/b');
      expect(parentPath('/a')).to.equal('/');
      expect([...ancestorsOf('/a/b/c')]).to.deep.equal(['/a/b', '/a', '/']);
    });
  });
});
