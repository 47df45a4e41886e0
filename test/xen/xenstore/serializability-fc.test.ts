// Property (fast-check): random operation sequences from several connections — dom0 twice and
// two guests — with transactions opened, committed, aborted and conflicting, always end in the
// state that running the committed transactions (and the requests made outside transactions)
// one after the other, in commit order, produces; and every answer given inside a transaction
// is the answer the serial run gives. Requests go through the wire request layer, so payload
// encoding and tx_id handling are under test too. fast-check shrinks a failure to a minimal
// history.

import { expect } from 'chai';
import fc from 'fast-check';
import type { XsConnection } from '../../../src/xen/xenstore/index.js';
import { XsMsgType as T } from '../../../src/xen/xenstore/wire/codec.js';
import { handleRequest } from '../../../src/xen/xenstore/wire/requests.js';
import { sharedArea, type Actor } from './fixtures.js';

const ACTORS: readonly Actor[] = [
  { domid: 0, privileged: true }, { domid: 0, privileged: true }, { domid: 1, privileged: false }, { domid: 2, privileged: false },
];

type Op =
  | { kind: 'write'; path: string; value: string }
  | { kind: 'mkdir' | 'rm' | 'read' | 'directory' | 'getPerms'; path: string }
  | { kind: 'setPerms'; path: string; perms: readonly string[] };

type Step =
  | { kind: 'start'; conn: number }
  | { kind: 'end'; conn: number; commit: boolean }
  | { kind: 'op'; conn: number; op: Op; inTx: boolean };

const PATHS = ['/s/a', '/s/a/x', '/s/b', '/s/b/y', '/s/c', '/s/ro', '/local/domain/1/a', '/local/domain/2/a', '/local/domain/1/a/z'];
const path = fc.constantFrom(...PATHS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), path, value: fc.constantFrom('v0', 'v1', 'v2') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('mkdir' as const, 'rm' as const), path }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('read' as const, 'directory' as const, 'getPerms' as const), path }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setPerms' as const), path, perms: fc.constantFrom(['n0'], ['n0', 'r1', 'r2'], ['n1', 'b2'], ['b0']) }) },
);
const conn = fc.nat(ACTORS.length - 1);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('start' as const), conn }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('end' as const), conn, commit: fc.boolean() }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('op' as const), conn, op, inTx: fc.boolean() }) },
);

function request(o: Op): [number, Buffer] {
  switch (o.kind) {
    case 'write': return [T.WRITE, Buffer.from(`${o.path}\0${o.value}`)];
    case 'mkdir': return [T.MKDIR, Buffer.from(`${o.path}\0`)];
    case 'rm': return [T.RM, Buffer.from(`${o.path}\0`)];
    case 'read': return [T.READ, Buffer.from(`${o.path}\0`)];
    case 'directory': return [T.DIRECTORY, Buffer.from(`${o.path}\0`)];
    case 'getPerms': return [T.GET_PERMS, Buffer.from(`${o.path}\0`)];
    case 'setPerms': return [T.SET_PERMS, Buffer.from(`${o.path}\0${o.perms.map((p) => `${p}\0`).join('')}`)];
  }
}

/** The reply as comparable text: `ERROR <code>` or the payload. */
function send(c: XsConnection, type: number, payload: Buffer, txId: number): string {
  const r = handleRequest(c, { type, reqId: 1, txId, payload });
  const text = r.payload.toString('latin1');
  return r.type === T.ERROR ? `ERROR ${text}` : text;
}

interface Unit { conn: number; answers: Array<{ op: Op; answer: string }> }

describe('xenstore serializability (fast-check, through the wire request layer)', function () {
  this.timeout(120000);

  it('always ends as the serial run of the committed transactions, with the same answers', () => {
    let commits = 0;
    let conflicts = 0;
    fc.assert(fc.property(fc.array(step, { minLength: 40, maxLength: 150, size: 'max' }), (steps) => {
      const { store, conns } = sharedArea(ACTORS);
      const open = new Map<number, { tx: number; unit: Unit }>();
      const committed: Unit[] = [];
      for (const s of steps) {
        const c = conns[s.conn]!;
        const current = open.get(s.conn);
        if (s.kind === 'start') {
          if (current) continue;
          const answer = send(c, T.TRANSACTION_START, Buffer.from('\0'), 0);
          open.set(s.conn, { tx: Number(answer.slice(0, -1)), unit: { conn: s.conn, answers: [] } });
        } else if (s.kind === 'end') {
          if (!current) continue;
          open.delete(s.conn);
          const answer = send(c, T.TRANSACTION_END, Buffer.from(s.commit ? 'T\0' : 'F\0'), current.tx);
          if (answer === 'OK\0') {
            if (s.commit) { committed.push(current.unit); commits++; }
          } else {
            expect(s.commit, `abort answered ${answer}`).to.equal(true);
            expect(['ERROR EAGAIN\0', 'ERROR ENOSPC\0']).to.include(answer);
            conflicts++;
          }
        } else {
          const [type, payload] = request(s.op);
          if (current && s.inTx) {
            current.unit.answers.push({ op: s.op, answer: send(c, type, payload, current.tx) });
          } else {
            committed.push({ conn: s.conn, answers: [{ op: s.op, answer: send(c, type, payload, 0) }] });
          }
        }
      }
      // Transactions still open at the end never committed: they must not matter.
      const oracle = sharedArea(ACTORS);
      committed.forEach((unit, u) => {
        for (const { op: o, answer } of unit.answers) {
          const [type, payload] = request(o);
          expect(send(oracle.conns[unit.conn]!, type, payload, 0), `unit ${u} conn ${unit.conn} ${o.kind} ${o.path}`)
            .to.equal(answer);
        }
      });
      expect(store.dump()).to.equal(oracle.store.dump());
    }), { numRuns: 300, seed: 4 });
    expect(commits, 'histories commit').to.be.greaterThan(500);
    expect(conflicts, 'histories conflict').to.be.greaterThan(50);
  });
});
