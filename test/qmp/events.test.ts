// Events: QEMU's timestamp shape, never before negotiation, and to every negotiated session of
// every transport (unix sockets, pretty ones, and any other transport the server core serves).

import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { timestampNow } from '../../src/qmp/events.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { eventually, QmpTestClient, type QmpMessage } from '../helpers/qmp-client.js';
import { RawLineClient } from '../helpers/raw-line-client.js';

const EVENT_LINE = /^\{"timestamp": \{"seconds": (\d+), "microseconds": (\d+)\}, "event": "([A-Za-z_.-]+)"(, "data": \{.*\})?\}\r\n$/;

describe('QMP events', () => {
  let t: TestApp;
  let pretty: string;

  beforeEach(async () => {
    pretty = join(mkdtempSync(join(tmpdir(), 'vifd-ev-')), 'pretty.sock');
    t = await startApp(['-qmp-pretty', `unix:${pretty},server=on,wait=off`]);
  });
  afterEach(async () => {
    await t.stop();
    rmSync(dirname(pretty), { recursive: true, force: true });
  });

  /** One message: a line, or on a pretty monitor the lines up to the closing brace. */
  async function message(c: RawLineClient): Promise<string> {
    let text = await c.line();
    if (text === '{\r\n') while (!text.endsWith('\n}\r\n')) text += await c.line();
    return text;
  }

  async function negotiated(path: string): Promise<RawLineClient> {
    const c = await RawLineClient.connect(path);
    await message(c);
    await c.write('{"execute":"qmp_capabilities"}');
    expect((await message(c)).replace(/\s/g, '')).to.equal('{"return":{}}');
    return c;
  }

  it('stamps each event with QEMU\'s {"seconds", "microseconds"} and prints members in QEMU\'s order', async () => {
    const c = await negotiated(t.qmpPath);
    const before = Math.floor(Date.now() / 1000);
    t.app.events.emit('DEVICE_DELETED', { device: 'd', path: '/machine/peripheral/d' });
    const line = await c.line();
    const m = EVENT_LINE.exec(line);
    expect(m, line).to.not.equal(null);
    expect(Number(m![1])).to.be.within(before, before + 2);
    expect(Number(m![2])).to.be.below(1_000_000);
    expect(line).to.match(/"event": "DEVICE_DELETED", "data": \{"device": "d", "path": "\/machine\/peripheral\/d"\}\}\r\n$/);
    c.destroy();
  });

  it('omits data when an event has none, as QEMU does', async () => {
    const c = await negotiated(t.qmpPath);
    t.app.events.emit('NETDEV_STREAM_DISCONNECTED', { 'netdev-id': 'n' });
    expect(await c.line()).to.match(EVENT_LINE);
    c.destroy();
  });

  it('sends nothing before negotiation, and events once the session has negotiated', async () => {
    const c = await RawLineClient.connect(t.qmpPath);
    await c.line();
    t.app.events.emit('DEVICE_DELETED', { path: '/machine/peripheral-anon/device[0]' });
    expect(await c.drain(50)).to.deep.equal([]);
    await c.write('{"execute":"qmp_capabilities"}');
    expect(await c.line()).to.equal('{"return": {}}\r\n');
    t.app.events.emit('DEVICE_DELETED', { path: '/machine/peripheral-anon/device[1]' });
    expect(await c.line()).to.match(/"data": \{"path": "\/machine\/peripheral-anon\/device\[1\]"\}\}\r\n$/);
    c.destroy();
  });

  it('reaches every negotiated session of every transport, and no other', async () => {
    const a = await negotiated(t.qmpPath);
    const b = await negotiated(t.qmpPath);
    const p = await negotiated(pretty);
    const idle = await RawLineClient.connect(t.qmpPath);
    await idle.line();
    // A transport of its own (as the dashboard's WebSocket bridge is): the server core is
    // transport-agnostic, so anything that opens a session is served the same way.
    const memory: string[] = [];
    const s = t.app.qmp.openSession({ write: (text) => memory.push(text), close: () => undefined });
    s.receive(Buffer.from('{"execute":"qmp_capabilities"}'));
    t.app.events.emit('SHUTDOWN', { guest: false, reason: 'host-signal' });
    for (const c of [a, b]) expect(await c.line()).to.match(/"event": "SHUTDOWN", "data": \{"guest": false, "reason": "host-signal"\}\}\r\n$/);
    expect(await message(p)).to.match(/^\{\r\n {4}"timestamp": \{\r\n {8}"seconds": \d+,\r\n {8}"microseconds": \d+\r\n {4}\},\r\n {4}"event": "SHUTDOWN",/);
    expect(memory.slice(-1)[0]).to.match(EVENT_LINE);
    expect(await idle.drain(50)).to.deep.equal([]);
    s.close();
    for (const c of [a, b, p, idle]) c.destroy();
  });

  it('never stamps an event earlier than the one before it', () => {
    let last = timestampNow();
    for (let i = 0; i < 200_000; i++) {
      const now = timestampNow();
      const back = now.seconds < last.seconds || (now.seconds === last.seconds && now.microseconds < last.microseconds);
      expect(back, `${JSON.stringify(now)} after ${JSON.stringify(last)}`).to.equal(false);
      last = now;
    }
  });

  it('gives every session the events of many hotplugs and unplugs at once with timestamps that never go back', async function () {
    this.timeout(30000);
    const vifs = 24;
    const sessions = await Promise.all([0, 1, 2].map(() => QmpTestClient.connect(t.qmpPath)));
    const [a] = sessions;
    const ids = Array.from({ length: vifs }, (_, i) => `ev${i}`);
    for (const id of ids) a!.send(JSON.stringify({ execute: 'device_add', arguments: { driver: 'xen-net-device', id } }));
    for (const id of ids) expect(JSON.parse(await a!.nextLine()), id).to.deep.equal({ return: {} });
    for (const id of ids) a!.send(JSON.stringify({ execute: 'device_del', arguments: { id } }));
    for (const id of ids) expect(JSON.parse(await a!.nextLine()), id).to.deep.equal({ return: {} });
    const micros = (e: QmpMessage): number => {
      const ts = e['timestamp'] as { seconds: number; microseconds: number };
      return ts.seconds * 1_000_000 + ts.microseconds;
    };
    for (const [n, c] of sessions.entries()) {
      // c.events holds every event in the order it arrived.
      const deletions = (): QmpMessage[] => c.events.filter((e) => e['event'] === 'DEVICE_DELETED');
      await eventually(() => deletions().length === vifs, 20000, `session ${n}: ${vifs} DEVICE_DELETED`);
      expect(new Set(deletions().map((e) => (e['data'] as QmpMessage)['device'])), `session ${n}`).to.deep.equal(new Set(ids));
      expect(c.events.length, `session ${n}: state changes besides the deletions`).to.be.above(vifs);
      c.events.forEach((e, i) => {
        if (i > 0) expect(micros(e), `session ${n}, event ${i} (${String(e['event'])})`).to.be.at.least(micros(c.events[i - 1]!));
      });
      c.close();
    }
  });
});

