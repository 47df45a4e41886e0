// Property: whatever several connections do, with transactions interleaved, the store ends up as
// if the committed transactions and the requests outside transactions had run one after the
// other in commit order, and every answer a transaction got is the answer it would have got
// then. Random histories (seeded, reproducible) are checked against two oracles: a fresh store
// replaying the committed history without transactions (all rules, permissions included), and
// an independent in-test model of the plain tree semantics (privileged connections only).

import { expect } from 'chai';
import { XenStore, XsError, type XsConnection } from '../../../src/xen/xenstore/index.js';
import { mulberry32 } from '../../helpers/prng.js';
import { sharedArea, type Actor } from './fixtures.js';

const prng = mulberry32;

type Op =
  | { kind: 'write'; path: string; value: string }
  | { kind: 'mkdir' | 'rm' | 'read' | 'directory' | 'getPerms'; path: string }
  | { kind: 'setPerms'; path: string; perms: string[] };

/** An answer, in a comparable form: an error name, or the result. */
type Outcome = string;

interface Unit {
  conn: number;
  steps: Array<{ op: Op; outcome: Outcome }>;
}

function perform(conn: XsConnection, op: Op, tx?: number): Outcome {
  try {
    switch (op.kind) {
      case 'write': conn.write(op.path, op.value, tx); return 'OK';
      case 'mkdir': conn.mkdir(op.path, tx); return 'OK';
      case 'rm': conn.rm(op.path, tx); return 'OK';
      case 'setPerms': conn.setPerms(op.path, op.perms, tx); return 'OK';
      case 'read': return `value ${JSON.stringify(conn.read(op.path, tx).toString('latin1'))}`;
      case 'directory': return `dir ${JSON.stringify(conn.directory(op.path, tx))}`;
      case 'getPerms': return `perms ${conn.getPerms(op.path, tx).join(',')}`;
    }
  } catch (err) {
    if (err instanceof XsError) return err.code;
    throw err;
  }
}




const NAMES = ['a', 'b', 'c'];
const LEAVES = ['x', 'y'];

function randomPath(rand: () => number, actor: Actor): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const roll = rand();
  if (roll < 0.1) return '/s/ro';
  if (roll < 0.2 && !actor.privileged) return `/local/domain/${actor.domid === 1 ? 2 : 1}/${pick(NAMES)}`;
  const root = roll < 0.6 ? '/s' : `/local/domain/${actor.privileged ? pick([1, 2]) : actor.domid}`;
  const depth = Math.floor(rand() * 4);
  let path = root;
  for (let i = 0; i < depth; i++) path += `/${i === depth - 1 ? pick([...NAMES, ...LEAVES]) : pick(NAMES)}`;
  return path;
}

function randomOp(rand: () => number, actor: Actor, allowPerms: boolean): Op {
  const path = randomPath(rand, actor);
  const roll = rand();
  if (roll < 0.3) return { kind: 'write', path, value: `v${Math.floor(rand() * 5)}` };
  if (roll < 0.4) return { kind: 'mkdir', path };
  if (roll < 0.5) return { kind: 'rm', path };
  if (roll < 0.7) return { kind: 'read', path };
  if (roll < 0.85) return { kind: 'directory', path };
  if (roll < 0.9 || !allowPerms) return { kind: 'getPerms', path };
  const owner = actor.privileged ? Math.floor(rand() * 3) : actor.domid;
  const lists = [[`n${owner}`], [`n${owner}`, 'r1', 'r2'], [`b${owner}`], [`n${owner}`, 'b1', 'b2']];
  return { kind: 'setPerms', path, perms: lists[Math.floor(rand() * lists.length)]! };
}

interface History { units: Unit[]; commits: number; conflicts: number; final: string }

/** Runs a random interleaving and returns what committed, in commit order. */
function runHistory(seed: number, actors: readonly Actor[], steps: number, allowPerms: boolean): History {
  const rand = prng(seed);
  const { store, conns } = sharedArea(actors);
  const open = new Map<number, { tx: number; steps: Unit['steps'] }>();
  const units: Unit[] = [];
  let commits = 0;
  let conflicts = 0;
  for (let i = 0; i < steps; i++) {
    const c = Math.floor(rand() * conns.length);
    const conn = conns[c]!;
    const current = open.get(c);
    const roll = rand();
    if (!current && roll < 0.15) {
      open.set(c, { tx: conn.transactionStart(), steps: [] });
    } else if (current && roll < 0.12) {
      open.delete(c);
      const commit = rand() < 0.85;
      try {
        conn.transactionEnd(current.tx, commit);
        if (commit) {
          units.push({ conn: c, steps: current.steps });
          commits++;
        }
      } catch (err) {
        if (!(err instanceof XsError) || !['EAGAIN', 'ENOSPC'].includes(err.code)) throw err;
        conflicts++;
      }
    } else {
      const op = randomOp(rand, actors[c]!, allowPerms);
      if (current && rand() < 0.8) {
        current.steps.push({ op, outcome: perform(conn, op, current.tx) });
      } else {
        units.push({ conn: c, steps: [{ op, outcome: perform(conn, op) }] });
      }
    }
  }
  return { units, commits, conflicts, final: store.dump() };
}

/** Oracle 1: the same history without transactions, on a fresh store. */
function replayOnStore(units: readonly Unit[], actors: readonly Actor[]): string {
  const { store, conns } = sharedArea(actors);
  units.forEach((unit, u) => {
    for (const { op, outcome } of unit.steps) {
      const again = perform(conns[unit.conn]!, op);
      expect(again, `unit ${u} (conn ${unit.conn}) ${op.kind} ${op.path}`).to.equal(outcome);
    }
  });
  return store.dump();
}

interface ModelNode { value: string; children: string[] }

/** Oracle 2: plain tree semantics for privileged callers, written from the protocol sheet. */
class TreeModel {
  private readonly nodes = new Map<string, ModelNode>();

  constructor(world: XenStore) {
    for (const e of world.entries()) {
      this.nodes.set(e.path, { value: e.value.toString('latin1'), children: [] });
      if (e.path !== '/') this.nodes.get(parent(e.path))!.children.push(base(e.path));
    }
  }

  apply(op: Op): Outcome {
    const node = this.nodes.get(op.path);
    switch (op.kind) {
      case 'read': return node ? `value ${JSON.stringify(node.value)}` : 'ENOENT';
      case 'directory': return node ? `dir ${JSON.stringify(node.children)}` : 'ENOENT';
      case 'getPerms': return node ? 'perms ?' : 'ENOENT';
      case 'setPerms': return node ? 'OK' : 'ENOENT';
      case 'mkdir': if (!node) this.create(op.path, ''); return 'OK';
      case 'write':
        if (node) node.value = op.value;
        else this.create(op.path, op.value);
        return 'OK';
      case 'rm':
        if (!node) return this.nodes.has(parent(op.path)) ? 'OK' : 'ENOENT';
        this.remove(op.path);
        return 'OK';
    }
  }

  private create(path: string, value: string): void {
    if (!this.nodes.has(parent(path))) this.create(parent(path), '');
    this.nodes.get(parent(path))!.children.push(base(path));
    this.nodes.set(path, { value, children: [] });
  }

  private remove(path: string): void {
    for (const child of [...this.nodes.get(path)!.children]) this.remove(`${path}/${child}`);
    const siblings = this.nodes.get(parent(path))!.children;
    siblings.splice(siblings.indexOf(base(path)), 1);
    this.nodes.delete(path);
  }

  values(): string[] {
    return [...this.nodes.entries()].map(([p, n]) => `${p}=${n.value}`).sort();
  }
}

function parent(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function base(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

describe('xenstore serializability (property)', function () {
  this.timeout(60000);

  it('equals the serial replay of committed work, for guests and dom0 with permissions', () => {
    const actors: Actor[] = [
      { domid: 0, privileged: true }, { domid: 0, privileged: true },
      { domid: 1, privileged: false }, { domid: 2, privileged: false }, { domid: 1, privileged: false },
    ];
    let commits = 0;
    let conflicts = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const history = runHistory(seed, actors, 400, true);
      commits += history.commits;
      conflicts += history.conflicts;
      const replayed = replayOnStore(history.units, actors);
      expect(replayed, `seed ${seed}`).to.equal(history.final);
    }
    // The histories must actually exercise both outcomes of a commit.
    expect(commits).to.be.greaterThan(500);
    expect(conflicts).to.be.greaterThan(50);
  });

  it('agrees with an independent model of the tree for privileged connections', () => {
    const actors: Actor[] = [
      { domid: 0, privileged: true }, { domid: 0, privileged: true }, { domid: 0, privileged: true },
    ];
    for (let seed = 1000; seed < 1150; seed++) {
      const history = runHistory(seed, actors, 400, false);
      const model = new TreeModel(sharedArea([]).store);
      history.units.forEach((unit, u) => {
        for (const { op, outcome } of unit.steps) {
          const expected = model.apply(op);
          const actual = op.kind === 'getPerms' && outcome.startsWith('perms') ? 'perms ?' : outcome;
          expect(actual, `seed ${seed} unit ${u} ${op.kind} ${op.path}`).to.equal(expected);
        }
      });
      const finalValues = history.final.split('\n').map((line) => {
        const m = /^(\S+) = ("(?:[^"\\]|\\.)*")/.exec(line)!;
        return `${m[1]}=${JSON.parse(m[2]!) as string}`;
      }).sort();
      expect(finalValues, `seed ${seed}`).to.deep.equal(model.values());
    }
  });
});
