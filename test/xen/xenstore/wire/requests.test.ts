// Each wire request onto an XsConnection: payload shapes, the order of checks, echoed ids and
// the reply for every message type (docs/misc/xenstore.txt). No socket: handleRequest is pure.

import { expect } from 'chai';
import fc from 'fast-check';
import { XenStore, type XsConnection } from '../../../../src/xen/xenstore/index.js';
import { XsMsgType as T, type XsMessage } from '../../../../src/xen/xenstore/wire/codec.js';
import { handleRequest } from '../../../../src/xen/xenstore/wire/requests.js';
import { addGuest } from '../fixtures.js';

function req(type: number, payload: string | Buffer, txId = 0, reqId = 42): XsMessage {
  return { type, reqId, txId, payload: typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload };
}

/** `OK`, `ERROR EINVAL`, or the payload as text with NULs shown as `|`. */
function answer(conn: XsConnection, m: XsMessage): string {
  const r = handleRequest(conn, m);
  expect(r.reqId, 'req_id echoed').to.equal(m.reqId);
  expect(r.txId, 'tx_id echoed').to.equal(m.txId);
  const text = r.payload.toString('latin1').replace(/\0/g, '|');
  if (r.type === T.ERROR) return `ERROR ${text}`;
  expect(r.type).to.equal(m.type);
  return text;
}

describe('xenstore wire requests', () => {
  let store: XenStore;
  let dom0: XsConnection;
  const ask = (type: number, payload: string | Buffer, tx = 0): string => answer(dom0, req(type, payload, tx));

  beforeEach(() => {
    store = new XenStore();
    dom0 = store.connect(0, { privileged: true });
  });

  afterEach(() => dom0.close());

  it('writes everything after the first NUL, NULs included, and reads it back raw', () => {
    expect(ask(T.WRITE, '/a\0x\0y')).to.equal('OK|');
    expect(ask(T.READ, '/a\0')).to.equal('x|y');
    expect(ask(T.WRITE, '/e\0')).to.equal('OK|');
    expect(ask(T.READ, '/e\0')).to.equal('');
  });

  it('refuses one-argument requests whose only NUL is not the last byte (EINVAL)', () => {
    dom0.write('/a', 'v');
    for (const bad of ['/a', '/a\0\0', '', '/a\0x']) {
      expect(ask(T.READ, bad), JSON.stringify(bad)).to.equal('ERROR EINVAL|');
    }
    expect(ask(T.WRITE, '/a')).to.equal('ERROR EINVAL|');
    expect(ask(T.RM, '/a')).to.equal('ERROR EINVAL|');
    expect(ask(T.MKDIR, '')).to.equal('ERROR EINVAL|');
  });

  it('lists, reads permissions and sets them', () => {
    dom0.write('/d/x', '1');
    dom0.write('/d/y', '2');
    expect(ask(T.DIRECTORY, '/d\0')).to.equal('x|y|');
    expect(ask(T.DIRECTORY, '/d/x\0')).to.equal('');
    expect(ask(T.SET_PERMS, '/d\0n0\0r1\0')).to.equal('OK|');
    expect(ask(T.GET_PERMS, '/d\0')).to.equal('n0|r1|');
    expect(ask(T.SET_PERMS, '/d\0')).to.equal('ERROR EINVAL|');
    expect(ask(T.SET_PERMS, '/d\0x0\0')).to.equal('ERROR EINVAL|');
    expect(ask(T.SET_PERMS, '/d\0n0')).to.equal('ERROR EINVAL|');
    expect(ask(T.SET_PERMS, '/missing\0n0\0')).to.equal('ERROR ENOENT|');
  });

  it('answers E2BIG for a DIRECTORY reply over 4096 bytes, and DIRECTORY_PART pages through it', () => {
    const names = Array.from({ length: 200 }, (_, i) => `child-with-a-long-name-${String(i).padStart(4, '0')}`);
    for (const n of names) dom0.write(`/big/${n}`, '');
    expect(ask(T.DIRECTORY, '/big\0')).to.equal('ERROR E2BIG|');
    const gen = ask(T.DIRECTORY_PART, '/big\0' + '0\0').split('|')[0];
    let offset = 0;
    let listed = '';
    for (;;) {
      const r = handleRequest(dom0, req(T.DIRECTORY_PART, `/big\0${offset}\0`));
      expect(r.type).to.equal(T.DIRECTORY_PART);
      expect(r.payload.length).to.be.at.most(4096);
      const nul = r.payload.indexOf(0);
      expect(r.payload.toString('latin1', 0, nul)).to.equal(gen);
      const chunk = r.payload.subarray(nul + 1);
      if (chunk.length >= 2 && chunk[chunk.length - 1] === 0 && chunk[chunk.length - 2] === 0) {
        listed += chunk.subarray(0, chunk.length - 1).toString('latin1');
        break;
      }
      listed += chunk.toString('latin1');
      offset += chunk.length;
    }
    expect(listed.split('\0').filter(Boolean)).to.deep.equal(names);
    expect(ask(T.DIRECTORY_PART, '/big\0x\0')).to.equal('ERROR EINVAL|');
    expect(ask(T.DIRECTORY_PART, '/big\0')).to.equal('ERROR EINVAL|');
  });

  it('resolves relative paths below /local/domain/0, as cx does for its socket', () => {
    expect(ask(T.WRITE, 'rel\0v')).to.equal('OK|');
    expect(dom0.read('/local/domain/0/rel').toString()).to.equal('v');
  });

  it('runs transactions by the header tx_id, echoing it in replies and errors', () => {
    dom0.write('/t', 'old');
    const id = Number(ask(T.TRANSACTION_START, '\0').split('|')[0]);
    expect(id).to.be.greaterThan(0);
    expect(ask(T.WRITE, '/t\0new', id)).to.equal('OK|');
    expect(dom0.read('/t').toString()).to.equal('old');
    expect(ask(T.READ, '/t\0', id)).to.equal('new');
    expect(ask(T.READ, '/nope\0', id)).to.equal('ERROR ENOENT|');
    expect(ask(T.TRANSACTION_START, '\0', id)).to.equal('ERROR EBUSY|');
    expect(ask(T.TRANSACTION_END, 'X\0', id)).to.equal('ERROR EINVAL|');
    expect(ask(T.TRANSACTION_END, 'T\0', id)).to.equal('OK|');
    expect(dom0.read('/t').toString()).to.equal('new');
    expect(ask(T.TRANSACTION_END, 'T\0', id)).to.equal('ERROR ENOENT|');
    expect(ask(T.TRANSACTION_END, 'T\0', 0)).to.equal('ERROR ENOENT|');
  });

  it('answers ENOENT for an unknown tx_id before looking at the payload', () => {
    expect(ask(T.READ, 'garbage', 99)).to.equal('ERROR ENOENT|');
    expect(ask(T.WRITE, 'garbage', 99)).to.equal('ERROR ENOENT|');
    expect(ask(T.TRANSACTION_START, '\0', 99)).to.equal('ERROR ENOENT|');
  });

  it('reports a conflict as EAGAIN at commit', () => {
    dom0.write('/c', '1');
    const id = Number(ask(T.TRANSACTION_START, '\0').split('|')[0]);
    expect(ask(T.READ, '/c\0', id)).to.equal('1');
    dom0.write('/c', '2');
    expect(ask(T.WRITE, '/c\0' + '3', id)).to.equal('OK|');
    expect(ask(T.TRANSACTION_END, 'T\0', id)).to.equal('ERROR EAGAIN|');
    expect(dom0.read('/c').toString()).to.equal('2');
  });

  it('takes WATCH and UNWATCH with exactly two arguments and ignores their tx_id', async () => {
    const seen: string[] = [];
    dom0.onWatchEvent = (p, t) => seen.push(`${p} ${t}`);
    expect(ask(T.WATCH, '/w\0tok\0', 12345)).to.equal('OK|');
    expect(ask(T.WATCH, '/w\0tok\0')).to.equal('ERROR EEXIST|');
    expect(ask(T.WATCH, '/w\0tok\0' + '1\0')).to.equal('ERROR EINVAL|');
    expect(ask(T.WATCH, '/w\0tok')).to.equal('ERROR EINVAL|');
    dom0.deliverPendingEvents();
    expect(seen).to.deep.equal(['/w tok']);
    expect(ask(T.UNWATCH, '/w\0tok\0', 777)).to.equal('OK|');
    expect(ask(T.UNWATCH, '/w\0tok\0')).to.equal('ERROR ENOENT|');
    expect(ask(T.WATCH, '/r\0a\0')).to.equal('OK|');
    expect(ask(T.RESET_WATCHES, '\0')).to.equal('OK|');
    expect(ask(T.UNWATCH, '/r\0a\0')).to.equal('ERROR ENOENT|');
  });

  it('serves the domain requests', () => {
    dom0.mkdir('/local/domain/5');
    expect(ask(T.GET_DOMAIN_PATH, '5\0')).to.equal('/local/domain/5|');
    expect(ask(T.IS_DOMAIN_INTRODUCED, '5\0')).to.equal('F|');
    expect(ask(T.IS_DOMAIN_INTRODUCED, '0\0')).to.equal('T|');
    expect(ask(T.INTRODUCE, '5\0' + '1234\0' + '3\0')).to.equal('OK|');
    expect(ask(T.IS_DOMAIN_INTRODUCED, '5\0')).to.equal('T|');
    expect(ask(T.INTRODUCE, '5\0' + '1234\0')).to.equal('ERROR EINVAL|');
    expect(ask(T.INTRODUCE, 'x\0' + '1\0' + '1\0')).to.equal('ERROR EINVAL|');
    expect(ask(T.RESUME, '5\0')).to.equal('OK|');
    expect(ask(T.SET_TARGET, '5\0' + '0\0')).to.equal('OK|');
    expect(ask(T.RELEASE, '5\0')).to.equal('OK|');
    expect(ask(T.RELEASE, '5\0')).to.equal('ERROR ENOENT|');
    expect(ask(T.RELEASE, '0\0')).to.equal('ERROR EINVAL|');
    expect(ask(T.GET_DOMAIN_PATH, 'five\0')).to.equal('ERROR EINVAL|');
  });

  it('answers ENOSYS for server-only, removed, optional and unknown types', () => {
    for (const type of [T.CONTROL, T.WATCH_EVENT, T.ERROR, T.RESTRICT, T.GET_FEATURE, T.SET_FEATURE,
      T.GET_QUOTA, T.SET_QUOTA, 27, 1000, 0xffff, 0xffffffff]) {
      expect(ask(type, 'x\0'), `type ${type}`).to.equal('ERROR ENOSYS|');
    }
  });

  it('refuses privileged types to an unprivileged connection with EACCES', () => {
    const guest = addGuest(store, dom0, 3);
    for (const [type, payload] of [[T.INTRODUCE, '4\0' + '1\0' + '1\0'], [T.RELEASE, '3\0'], [T.IS_DOMAIN_INTRODUCED, '3\0'],
      [T.RESUME, '3\0'], [T.SET_TARGET, '3\0' + '0\0']] as const) {
      expect(answer(guest, req(type, payload)), `type ${type}`).to.equal('ERROR EACCES|');
    }
    expect(answer(guest, req(T.READ, '/tool\0'))).to.equal('ERROR EACCES|');
    guest.close();
  });

  it('answers EIO and reports the bug when something other than an XsError escapes', () => {
    const broken = new Proxy(dom0, {
      get(target, prop, receiver) {
        if (prop === 'read') return () => { throw new TypeError('boom'); };
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const bugs: unknown[] = [];
    const r = handleRequest(broken, req(T.READ, '/a\0'), (err) => bugs.push(err));
    expect(r.type).to.equal(T.ERROR);
    expect(r.payload.toString('latin1')).to.equal('EIO\0');
    expect(bugs).to.have.length(1);
  });

  it('property: any sequence of requests, whatever their bytes, gets one reply each and no internal error', () => {
    const pieces = fc.constantFrom('/', '/a', '/a/b', 'rel', '@introduceDomain', 'T', 'F', '0', '1', '5', 'n0', 'r1', 'b2', 'tok', '', 'x');
    const payload = fc.oneof(
      fc.array(fc.tuple(pieces, fc.boolean()), { maxLength: 4 })
        .map((parts) => Buffer.from(parts.map(([p, nul]) => (nul ? `${p}\0` : p)).join(''), 'latin1')),
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    );
    const request = fc.record({
      type: fc.oneof(fc.integer({ min: 0, max: 28 }), fc.integer({ min: 0, max: 0xffffffff })),
      txId: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 0xffffffff })),
      reqId: fc.integer({ min: 0, max: 0xffffffff }),
      payload,
    });
    fc.assert(fc.property(fc.array(request, { maxLength: 60 }), (requests) => {
      const s = new XenStore();
      const c = s.connect(0, { privileged: true });
      const bugs: unknown[] = [];
      for (const r of requests) {
        const reply = handleRequest(c, r, (err) => bugs.push(err));
        expect(reply.reqId).to.equal(r.reqId);
        expect(reply.txId).to.equal(r.txId);
        expect([r.type, T.ERROR]).to.include(reply.type);
        expect(reply.payload.length).to.be.at.most(4096);
        if (reply.type === T.ERROR) expect(reply.payload.toString('latin1')).to.match(/^E[A-Z0-9]+\0$/);
      }
      expect(bugs).to.deep.equal([]);
      c.close();
    }), { numRuns: 300 });
  });
});
