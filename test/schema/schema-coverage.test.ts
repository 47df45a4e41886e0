// schema/ is the single source of truth: every command it declares is implemented, and nothing
// is implemented that it does not declare (register() refuses those).

import { expect } from 'chai';
import { schemas } from '../../src/schema/registry.js';
import { startApp } from '../helpers/app.js';

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
      expect(() => t.app.dispatcher.register('no-such-command', () => ({}))).to.throw(/no schema/);
    } finally {
      await t.stop();
    }
  });

  it('declares an event for every event the code emits, and checks data against it', async () => {
    const t = await startApp();
    try {
      expect(() => t.app.events.emit('NO_SUCH_EVENT')).to.throw(/not declared/);
      expect(() => t.app.events.emit('DEVICE_DELETED', { path: 1 } as unknown as Record<string, unknown>)).to.throw(/does not match/);
    } finally {
      await t.stop();
    }
  });

  it('names each file after the title it declares', () => {
    for (const kind of ['command', 'event', 'device', 'netdev'] as const) {
      for (const e of schemas().list(kind)) expect(e.schema.title).to.equal(e.name);
    }
  });
});
