// Events: QEMU's timestamp shape, never before negotiation, and to every negotiated session of
// every transport (unix sockets, pretty ones, and any other transport the server core serves).

import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startApp, type TestApp } from '../helpers/app.js';
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
});
