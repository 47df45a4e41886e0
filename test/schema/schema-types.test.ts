// The TypeScript types of QMP's boundaries come from schema/ (scripts/gen-schema-types.mjs, run
// by `npm run build`), so a schema change that a handler ignores does not compile. This checks
// that on the real handlers: it generates the types from a copy of schema/ with members
// removed and renamed, and type-checks src/qmp/commands/ against them with the compiler API.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { Dispatcher } from '../../src/qmp/dispatcher.js';
import { schemaDir } from '../../src/schema/registry.js';
import { REPO, typeCheck, type TypeCheck } from '../helpers/typecheck.js';

const ROOT = REPO;
const GENERATOR = join(ROOT, 'scripts/gen-schema-types.mjs');
const GENERATED = join(ROOT, 'src/schema/generated/schema-types.ts');
/** The handlers the mutations below concern. */
const HANDLERS = ['src/qmp/commands/xenstore.ts', 'src/qmp/commands/vif-datapath.ts'].map((f) => join(ROOT, f));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: Json | undefined): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The object at `path` below a parsed schema; fails the test if the schema no longer has it. */
function at(root: Json, path: string[]): { [k: string]: Json } {
  let v: Json | undefined = root;
  for (const key of path) v = isObject(v) ? v[key] : undefined;
  if (!isObject(v)) throw new Error(`the schema has no object at ${path.join('.')}`);
  return v;
}

/** Removes a member from an object schema: its property and its place in `required`. */
function removeMember(object: { [k: string]: Json }, name: string): void {
  delete at(object, ['properties'])[name];
  const required = object['required'];
  if (Array.isArray(required)) object['required'] = required.filter((r) => r !== name);
}

function editSchema(dir: string, file: string, edit: (schema: Json) => void): void {
  const path = join(dir, file);
  const schema: Json = JSON.parse(readFileSync(path, 'utf8'));
  edit(schema);
  writeFileSync(path, JSON.stringify(schema, null, 2));
}

/** The compiler's errors in `files` when the generated types are `generated` instead of what is on disk. */
function typeErrors(files: string[], generated: string, oldProgram?: ts.Program): TypeCheck {
  return typeCheck(files, new Map([[GENERATED, generated]]), oldProgram);
}

function generate(schema: string, out: string): string {
  execFileSync(process.execPath, [GENERATOR, '--schema', schema, '--out', out], { stdio: 'pipe' });
  return readFileSync(out, 'utf8');
}

describe('the types generated from schema/', () => {
  it('are what schema/ generates now (npm run build writes them)', () => {
    execFileSync(process.execPath, [GENERATOR, '--check'], { stdio: 'pipe' });
  });

  it('make a schema change that a handler ignores a compile error in that handler', function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), 'vifd-schema-types-'));
    try {
      const schema = join(dir, 'schema');
      cpSync(schemaDir(), schema, { recursive: true });
      const unchanged = typeErrors(HANDLERS, generate(schema, join(dir, 'unchanged.ts')));

      // An argument the handler reads is gone.
      editSchema(schema, 'commands/__com.vifd_xenstore-write.json', (s) => removeMember(at(s, []), 'value'));
      // A returned member is renamed.
      editSchema(schema, 'commands/__com.vifd_vif-kick.json', (s) => {
        const returns = at(s, ['x-qmp', 'returns']);
        removeMember(returns, 'kicked');
        at(returns, ['properties'])['was-kicked'] = { type: 'boolean' };
        returns['required'] = ['was-kicked'];
      });
      // A member the handler returns, in an array's elements, is no longer declared.
      editSchema(schema, 'commands/__com.vifd_vif-ring-info.json',
        (s) => removeMember(at(s, ['x-qmp', 'returns', 'properties', 'queues', 'items']), 'rx-stopped'));
      // A member of an event's data is gone.
      editSchema(schema, 'events/__com.vifd_VIF_DISABLED.json', (s) => removeMember(at(s, []), 'reason'));
      const changed = typeErrors(HANDLERS, generate(schema, join(dir, 'changed.ts')), unchanged.program);

      expect(Object.fromEntries(unchanged.errors)).to.deep.equal({
        'src/qmp/commands/xenstore.ts': [], 'src/qmp/commands/vif-datapath.ts': [],
      });
      const xenstore = changed.errors.get('src/qmp/commands/xenstore.ts')!;
      expect(xenstore).to.have.length(1);
      expect(xenstore[0]).to.contain("Property 'value' does not exist on type 'VifdXenstoreWriteArguments'");
      const datapath = changed.errors.get('src/qmp/commands/vif-datapath.ts')!;
      expect(datapath).to.have.length(3);
      expect(datapath.some((e) => e.includes("'reason' does not exist in type 'VifdVifDisabledData'")), datapath.join('\n\n')).to.equal(true);
      expect(datapath.some((e) => e.includes("Type '{ kicked: boolean; }' is not assignable to type 'Reply<\"__com.vifd_vif-kick\">'")),
        datapath.join('\n\n')).to.equal(true);
      expect(datapath.some((e) => e.includes('\'returns members its schema does not declare\': "queues.rx-stopped"')), datapath.join('\n\n')).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuse at compile time what the schema does not declare (each line below is a tsc error)', () => {
    const d = new Dispatcher();
    // @ts-expect-error: device_del's argument is `id`; there is no `name`
    d.register('device_del', ({ name }) => ({ name }));
    // @ts-expect-error: vif-kick returns { kicked }, nothing else
    d.register('__com.vifd_vif-kick', () => ({ kicked: true, extra: 1 }));
    // @ts-expect-error: query-status's status is a RunState, not any string
    d.register('query-status', () => ({ running: true, status: 'asleep' }));
    // @ts-expect-error: a command without returns answers {} and nothing else
    d.register('quit', () => 'bye');
    // @ts-expect-error: a command schema/commands does not declare
    expect(() => d.register('no-such-command', () => ({}))).to.throw(/no schema/);
    // What the schema declares compiles, awaited or not.
    d.register('__com.vifd_xenstore-read', async ({ path }) => path);
    expect(d.names()).to.deep.equal(['device_del', '__com.vifd_vif-kick', 'query-status', 'quit', '__com.vifd_xenstore-read']);
  });
});
