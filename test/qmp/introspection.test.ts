// query-commands and query-qmp-schema are generated from schema/, and for the commands and
// events vifd shares with QEMU the SchemaInfo entries are QEMU 10's (the oracle's
// derived.query_qmp_schema.entries), up to the opaque numbers QEMU gives non-command types:
// those are compared as a consistent renaming (QEMU's "193" is vifd's "23" everywhere).

import { expect } from 'chai';
import { schemas } from '../../src/schema/registry.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { withOracle } from '../helpers/oracle.js';
import { QmpTestClient } from '../helpers/qmp-client.js';

type Info = Record<string, unknown>;
type Group = Record<string, Info>;

const BUILTINS = new Set(['str', 'int', 'number', 'bool', 'null', 'any']);
const isOpaque = (n: string): boolean => /^\d+$/.test(n);

/** Compares QEMU's entries reachable from `root` with vifd's, renaming opaque names consistently. */
function compareEntries(group: Group, ours: Map<string, Info>, root: string): void {
  const rename = new Map<string, string>();
  const taken = new Map<string, string>();
  const done = new Set<string>();

  const sameType = (q: string, v: string, where: string): void => {
    if (q.startsWith('[')) {
      expect(v.startsWith('['), `${where}: ${v} is not an array type`).to.equal(true);
      sameType(q.slice(1, -1), v.slice(1, -1), `${where}[]`);
    } else if (isOpaque(q)) {
      expect(isOpaque(v), `${where}: ${v} should be an opaque name`).to.equal(true);
      const bound = rename.get(q);
      if (bound !== undefined) {
        expect(v, `${where}: QEMU's ${q} is already vifd's ${bound}`).to.equal(bound);
      } else {
        expect(taken.get(v), `${where}: vifd's ${v} is already QEMU's ${taken.get(v)}`).to.equal(undefined);
        rename.set(q, v);
        taken.set(v, q);
      }
    } else {
      expect(v, where).to.equal(q);
    }
    sameEntry(q, v, where);
  };

  const sameEntry = (q: string, v: string, where: string): void => {
    if (done.has(q) || group[q] === undefined) return; // the oracle lists what it lists
    done.add(q);
    const qe = group[q]!;
    const ve = ours.get(v);
    expect(ve, `${where}: vifd has no entry ${v}`).to.not.equal(undefined);
    expect(Object.keys(ve!).sort(), `${where} (${q}) keys`).to.deep.equal(Object.keys(qe).sort());
    for (const [k, qv] of Object.entries(qe)) {
      const vv = ve![k];
      const at = `${where}.${k}`;
      if (k === 'name') continue;
      if (k === 'arg-type' || k === 'ret-type' || k === 'element-type') {
        sameType(qv as string, vv as string, at);
      } else if (k === 'members' || k === 'variants') {
        const qm = qv as Info[];
        const vm = vv as Info[];
        expect(vm.map((m) => m['name'] ?? m['case']), at).to.deep.equal(qm.map((m) => m['name'] ?? m['case']));
        qm.forEach((m, i) => {
          expect(Object.keys(vm[i]!).sort(), `${at}[${i}] keys`).to.deep.equal(Object.keys(m).sort());
          for (const [mk, mv] of Object.entries(m)) {
            if (mk === 'type') sameType(mv as string, vm[i]![mk] as string, `${at}[${i}].type`);
            else expect(vm[i]![mk], `${at}[${i}].${mk}`).to.deep.equal(mv);
          }
        });
      } else {
        expect(vv, at).to.deep.equal(qv);
      }
    }
  };

  sameType(root, root, root);
}

describe('introspection generated from schema/', () => {
  let t: TestApp;
  let c: QmpTestClient;
  let info: Info[];
  let byName: Map<string, Info>;

  before(async () => {
    t = await startApp();
    c = await QmpTestClient.connect(t.qmpPath);
    info = (await c.execute('query-qmp-schema'))['return'] as Info[];
    byName = new Map(info.map((e) => [e['name'] as string, e]));
  });
  after(async () => {
    c.close();
    await t.stop();
  });

  it('query-commands lists exactly the commands schema/commands declares, as [{name}]', async () => {
    const r = (await c.execute('query-commands'))['return'] as Array<{ name: string }>;
    expect(r.every((x) => Object.keys(x).length === 1)).to.equal(true);
    expect(r.map((x) => x.name).sort()).to.deep.equal(schemas().list('command').map((e) => e.name).sort());
  });

  it('query-qmp-schema has one command entry per command and one event entry per event of schema/', () => {
    const of = (meta: string): string[] => info.filter((e) => e['meta-type'] === meta).map((e) => e['name'] as string).sort();
    expect(of('command')).to.deep.equal(schemas().list('command').map((e) => e.name).sort());
    expect(of('event')).to.deep.equal(schemas().list('event').map((e) => e.name).sort());
    expect(byName.size, 'names are unique').to.equal(info.length);
  });

  it('defines every type it names; type names are builtins, arrays or opaque numbers; "0" is the empty object', () => {
    const refs: string[] = [];
    for (const e of info) {
      for (const k of ['arg-type', 'ret-type', 'element-type']) if (typeof e[k] === 'string') refs.push(e[k] as string);
      for (const m of (e['members'] ?? []) as Info[]) if (typeof m['type'] === 'string') refs.push(m['type'] as string);
      for (const v of (e['variants'] ?? []) as Info[]) refs.push(v['type'] as string);
      if (e['meta-type'] !== 'command' && e['meta-type'] !== 'event') {
        const n = e['name'] as string;
        expect(BUILTINS.has(n) || isOpaque(n) || /^\[.+\]$/.test(n), n).to.equal(true);
      }
    }
    for (const r of refs) expect(byName.has(r), `type ${r} is defined`).to.equal(true);
    expect(byName.get('0')).to.deep.equal({ name: '0', 'meta-type': 'object', members: [] });
  });

  it('gives device_add its declared members and QEMU\'s features, and query-qmp-schema its SchemaInfo union', () => {
    const add = byName.get('device_add')!;
    expect(add['features']).to.deep.equal(['json-cli', 'json-cli-hotplug']);
    const schemaInfo = byName.get((byName.get('query-qmp-schema')!['ret-type'] as string).slice(1, -1))!;
    expect(schemaInfo['tag']).to.equal('meta-type');
  });

  // Flat unions whose variants schema/ does not spell out yet (the netdev types vifd implements
  // are in schema/netdevs/, QEMU lists all of its own): compared without tag and variants.
  const UNION_VARIANTS_PENDING = new Set(['netdev_add', 'NETDEV_STREAM_CONNECTED']);

  it('shares one ObjectPropertyInfo array type among qom-list, qom-list-properties and device-list-properties, as QEMU does', () => {
    const ret = (n: string): unknown => byName.get(n)?.['ret-type'];
    expect(ret('qom-list-properties')).to.equal(ret('qom-list'));
    expect(ret('device-list-properties')).to.equal(ret('qom-list'));
  });

  withOracle((oracle) => {
    const entries = (oracle.derived['query_qmp_schema'] as { entries: Record<string, Group> }).entries;
    for (const [name, group] of Object.entries(entries)) {
      const kind = group[name]!['meta-type'] === 'event' ? 'event' : 'command';
      if (schemas().get(kind, name) === undefined) continue; // QEMU has it, vifd does not (stop, qom-set, ...)
      if (UNION_VARIANTS_PENDING.has(name)) {
        it(`describes ${kind} ${name} with QEMU 10's members, its union's variants aside`, () => {
          const q = group[name]!;
          const v = byName.get(name)!;
          expect(v['meta-type']).to.equal(q['meta-type']);
          const members = (e: Info | undefined): unknown => (e?.['members'] as Info[]).map((m) => m['name']);
          expect(members(byName.get(v['arg-type'] as string))).to.deep.equal(members(group[q['arg-type'] as string]));
        });
        continue;
      }
      it(`describes ${kind} ${name} exactly as QEMU 10 does, opaque names aside`, () => {
        compareEntries(group, byName, name);
      });
    }
  });
});
