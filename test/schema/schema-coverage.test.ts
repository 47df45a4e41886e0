// schema/ is the single source of truth: every command it declares is implemented, and nothing
// is implemented that it does not declare (register() refuses those). The types generated from
// it refuse an undeclared command or event, or wrong event data, at compile time already
// (@ts-expect-error below); the checks at run time stay for values the types cannot see.

import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaDir, schemas } from '../../src/schema/registry.js';
import { startApp } from '../helpers/app.js';
import { QmpTestClient, eventually } from '../helpers/qmp-client.js';

/** Every QMP event name the sources pass to an emit() call (QMP event names are upper case). */
function emittedEventNames(): string[] {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/\.emit\(\s*'((?:__com\.[a-z0-9]+_)?[A-Z][A-Z0-9_]*)'/g)) names.add(m[1]!);
      }
    }
  };
  walk(join(schemaDir(), '..', 'src'));
  return [...names].sort();
}

describe('schema/ and the code agree', () => {
  it('implements every command schema/commands declares', async () => {
    const t = await startApp();
    try {
      expect(t.app.dispatcher.unimplemented()).to.deep.equal([]);
      expect(t.app.dispatcher.names().sort()).to.deep.equal(schemas().list('command').map((e) => e.name).sort());
    } finally {
      await t.stop();
    }
  });

  it('refuses to register a command schema/ does not declare', async () => {
    const t = await startApp();
    try {
      // @ts-expect-error: 'no-such-command' is not a CommandName
      expect(() => t.app.dispatcher.register('no-such-command', () => ({}))).to.throw(/no schema/);
    } finally {
      await t.stop();
    }
  });

  it('declares an event for every event the code emits, and checks data against it', async () => {
    const t = await startApp();
    try {
      // @ts-expect-error: 'NO_SUCH_EVENT' is not an EventName
      expect(() => t.app.events.emit('NO_SUCH_EVENT', {})).to.throw(/not declared/);
      // @ts-expect-error: DEVICE_DELETED's path is a string
      expect(() => t.app.events.emit('DEVICE_DELETED', { path: 1 })).to.throw(/does not match/);
    } finally {
      await t.stop();
    }
  });

  it('names each file after the title it declares', () => {
    for (const kind of ['command', 'event', 'device', 'netdev'] as const) {
      for (const e of schemas().list(kind)) expect(e.schema.title).to.equal(e.name);
    }
  });

  it('declares exactly the events the code emits, no more and no fewer', () => {
    expect(emittedEventNames()).to.deep.equal(schemas().list('event').map((e) => e.name).sort());
  });

  it('declares every property and live-state member a device shows, and shows every one it declares', async () => {
    const t = await startApp();
    const c = await QmpTestClient.connect(t.qmpPath);
    try {
      await c.execute('device_add', { driver: 'xen-net-device', id: 'cov' });
      const dev = (await eventually(() => t.app.devices.find('cov'), 5000, 'the device'))!;
      for (const entry of schemas().list('device').filter((e) => e.name === dev.typeName)) {
        const declared = [...Object.keys(entry.schema.properties ?? {}), ...Object.keys(entry.schema['x-qom-state'] ?? {})];
        expect(Object.keys(dev.properties()).sort()).to.deep.equal(declared.sort());
        // Live state is read-only: device_add does not take it.
        for (const name of Object.keys(entry.schema['x-qom-state'] ?? {})) {
          expect(Object.keys(entry.schema.properties ?? {})).to.not.include(name);
        }
      }
    } finally {
      c.close();
      await t.stop();
    }
  });
});
