import { expect } from 'chai';
import { accessFor, formatPerms, parsePerm, parsePerms, PERM_OWNER, PERM_READ, PERM_WRITE } from '../../../src/xen/xenstore/perms.js';
import { XsError } from '../../../src/xen/xenstore/errors.js';
import { expectXsError, makeWorld } from './fixtures.js';

const guest = (domid: number) => ({ domid, privileged: false });

describe('xenstore permissions', () => {
  describe('the string form', () => {
    it('round-trips n, r, w and b entries', () => {
      const texts = ['n0', 'r1', 'w2', 'b3', 'n65535'];
      expect(formatPerms(parsePerms(texts))).to.deep.equal(texts);
    });

    it('rejects unknown letters, missing or oversized domain ids, and an empty list', () => {
      for (const bad of ['x0', 'r', 'r-1', 'r1a', 'r65536', 'R1', '', 'r01']) {
        expect(() => parsePerm(bad), bad).to.throw(XsError, /EINVAL/);
      }
      expect(() => parsePerms([])).to.throw(XsError, /EINVAL/);
    });
  });

  describe('access rules', () => {
    const perms = parsePerms(['r5', 'w6', 'n7', 'b8', 'r6']);

    it('give the owner everything', () => {
      expect(accessFor(guest(5), perms)).to.equal(PERM_READ | PERM_WRITE | PERM_OWNER);
    });

    it('let the first later entry naming the caller decide', () => {
      expect(accessFor(guest(6), perms)).to.equal(PERM_WRITE);
      expect(accessFor(guest(7), perms)).to.equal(0);
      expect(accessFor(guest(8), perms)).to.equal(PERM_READ | PERM_WRITE);
    });

    it("apply the owner entry's letter to everybody else", () => {
      expect(accessFor(guest(9), perms)).to.equal(PERM_READ);
    });

    it('let privileged callers do anything', () => {
      expect(accessFor({ domid: 0, privileged: true }, parsePerms(['n3']))).to.equal(PERM_READ | PERM_WRITE | PERM_OWNER);
    });

    it('give a domain with a target the rights of its target', () => {
      expect(accessFor({ domid: 9, privileged: false, target: 5 }, perms)).to.equal(PERM_READ | PERM_WRITE | PERM_OWNER);
    });
  });

  describe('on requests', () => {
    it('let a guest read and write its own home but not dom0 nodes', () => {
      const { guest1 } = makeWorld();
      guest1.write('data', 'mine');
      expect(guest1.readString('data')).to.equal('mine');
      expectXsError(() => guest1.read('/local/domain/0/name'), 'EACCES');
      expectXsError(() => guest1.write('/local/domain/0/name', 'evil'), 'EACCES');
      expectXsError(() => guest1.write('/newtop', 'x'), 'EACCES');
    });

    it('report ENOENT for a missing node only if the nearest existing ancestor is readable', () => {
      const { guest1 } = makeWorld();
      expectXsError(() => guest1.read('/local/domain/1/no/such/node'), 'ENOENT');
      expectXsError(() => guest1.read('/local/domain/0/no/such/node'), 'EACCES');
      expectXsError(() => guest1.read('/local/domain/0/name'), 'EACCES');
    });

    it('do not tell an unprivileged domain whether a hidden node exists', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.write('/secret/exists', 'x');
      const existing = expectXsError(() => guest1.read('/secret/exists'), 'EACCES');
      const missing = expectXsError(() => guest1.read('/secret/missing'), 'EACCES');
      expect(existing.code).to.equal(missing.code);
      expectXsError(() => guest1.directory('/secret'), 'EACCES');
      expectXsError(() => guest1.rm('/secret/missing'), 'EACCES');
    });

    it('let a guest read a node that names it even below nodes it cannot read', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.write('/backend/vif/1/0/mac', '00:16:3e:00:00:01');
      dom0.setPerms('/backend/vif/1/0/mac', ['n0', 'r1']);
      expect(guest1.readString('/backend/vif/1/0/mac')).to.equal('00:16:3e:00:00:01');
      expectXsError(() => guest1.read('/backend/vif/1/0'), 'EACCES');
    });

    it('need write permission on the nearest existing ancestor to create nodes', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.mkdir('/shared');
      dom0.setPerms('/shared', ['n0', 'b1']);
      guest1.write('/shared/a/b', 'ok');
      dom0.mkdir('/readonly');
      dom0.setPerms('/readonly', ['n0', 'r1']);
      expectXsError(() => guest1.write('/readonly/a/b', 'no'), 'EACCES');
      expectXsError(() => guest1.mkdir('/readonly/a'), 'EACCES');
    });

    it('need write permission for MKDIR on an existing node', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.mkdir('/ro');
      dom0.setPerms('/ro', ['n0', 'r1']);
      expectXsError(() => guest1.mkdir('/ro'), 'EACCES');
    });

    it('need write permission on the node to remove it, but not inside it', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.write('/local/domain/1/locked/x', 'dom0 only');
      dom0.setPerms('/local/domain/1/locked/x', ['n0']);
      guest1.rm('/local/domain/1/locked');
      expectXsError(() => dom0.read('/local/domain/1/locked'), 'ENOENT');
    });
  });

  describe('inheritance on create', () => {
    it('copies the parent list for privileged creators', () => {
      const { dom0 } = makeWorld();
      dom0.mkdir('/inh');
      dom0.setPerms('/inh', ['n3', 'r4']);
      dom0.write('/inh/a/b', 'x');
      expect(dom0.getPerms('/inh/a')).to.deep.equal(['n3', 'r4']);
      expect(dom0.getPerms('/inh/a/b')).to.deep.equal(['n3', 'r4']);
    });

    it('makes an unprivileged creator the owner, keeping the other entries', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.mkdir('/pool');
      dom0.setPerms('/pool', ['n0', 'b1', 'r2']);
      guest1.write('/pool/a/b', 'x');
      expect(dom0.getPerms('/pool/a')).to.deep.equal(['n1', 'b1', 'r2']);
      expect(dom0.getPerms('/pool/a/b')).to.deep.equal(['n1', 'b1', 'r2']);
    });
  });

  describe('SET_PERMS', () => {
    it('replaces the list, owner first', () => {
      const { guest1 } = makeWorld();
      guest1.write('x', '1');
      guest1.setPerms('x', ['n1', 'r0', 'b2']);
      expect(guest1.getPerms('x')).to.deep.equal(['n1', 'r0', 'b2']);
    });

    it('is for owners only', () => {
      const { dom0, guest1, guest2 } = makeWorld();
      dom0.write('/both', 'x');
      dom0.setPerms('/both', ['n2', 'b1']);
      expectXsError(() => guest1.setPerms('/both', ['n2', 'b1', 'r3']), 'EACCES');
      guest2.setPerms('/both', ['n2', 'r1']);
      expect(dom0.getPerms('/both')).to.deep.equal(['n2', 'r1']);
    });

    it('does not let an unprivileged owner give its node away (EPERM)', () => {
      const { dom0, guest1 } = makeWorld();
      guest1.write('mine', 'x');
      expectXsError(() => guest1.setPerms('mine', ['n2']), 'EPERM');
      dom0.setPerms('/local/domain/1/mine', ['n2']);
      expect(dom0.getPerms('/local/domain/1/mine')).to.deep.equal(['n2']);
    });

    it('answers ENOENT on a missing node and EINVAL on a malformed entry', () => {
      const { dom0 } = makeWorld();
      expectXsError(() => dom0.setPerms('/missing', ['n0']), 'ENOENT');
      expectXsError(() => dom0.setPerms('/local', ['x0']), 'EINVAL');
      expectXsError(() => dom0.setPerms('/local', []), 'EINVAL');
    });

    it('sets the lists of @introduceDomain and @releaseDomain, and nothing else with @', () => {
      const { dom0, guest1 } = makeWorld();
      dom0.setPerms('@releaseDomain', ['n0', 'r1']);
      expectXsError(() => guest1.setPerms('@releaseDomain', ['n1']), 'EACCES');
      expectXsError(() => dom0.setPerms('@other', ['n0']), 'EINVAL');
    });
  });
});
