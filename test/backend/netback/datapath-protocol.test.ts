// The datapath thread's control operations are one typed table (DatapathOps): the main thread
// can only call what the table has, and the worker must serve all of it. This type-checks the
// real caller and worker with the compiler API, with an operation taken out of either side, and
// expects tsc to refuse each.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, typeCheck } from '../../helpers/typecheck.js';

const DIR = join(REPO, 'src/backend/netback');
const PROTOCOL = join(DIR, 'datapath-protocol.ts');
const WORKER = join(DIR, 'datapath-worker.ts');
const THREAD = join(DIR, 'datapath-thread.ts');
const rel = (file: string): string => file.slice(REPO.length + 1);

/** tsc's errors in the caller and the worker (repository-relative names), some files' text replaced. */
function typeErrors(replaced: Map<string, string>): Map<string, string[]> {
  const { errors } = typeCheck([WORKER, THREAD], replaced);
  return new Map([...errors].filter(([, list]) => list.length > 0));
}

/** `text` without the one line that matches `line`; fails if there is not exactly one. */
function without(text: string, line: RegExp): string {
  const lines = text.split('\n');
  const hits = lines.filter((l) => line.test(l));
  if (hits.length !== 1) throw new Error(`expected one line matching ${line}, found ${hits.length}`);
  return lines.filter((l) => !line.test(l)).join('\n');
}

describe('the datapath thread\'s typed operations', function () {
  this.timeout(60000);

  it('type-check as they are', () => {
    expect([...typeErrors(new Map()).entries()]).to.deep.equal([]);
  });

  it('refuse a call the table does not have, once an operation is taken out of it', () => {
    const protocol = without(readFileSync(PROTOCOL, 'utf8'), /^ {2}kick: \{ args: VifRef; result: void \};$/);
    const errors = typeErrors(new Map([[PROTOCOL, protocol]]));
    expect((errors.get(rel(THREAD)) ?? []).join('\n'), 'the caller').to.match(/"kick"/);
    expect((errors.get(rel(WORKER)) ?? []).join('\n'), 'the worker serving more than the table').to.match(/kick/);
  });

  it('refuse a worker that does not serve every operation', () => {
    const worker = without(readFileSync(WORKER, 'utf8'), /^ {2}kick: \(a\) => /);
    const errors = typeErrors(new Map([[WORKER, worker]]));
    expect((errors.get(rel(WORKER)) ?? []).join('\n')).to.match(/Property 'kick' is missing/);
  });
});
