// QMP sessions as QEMU 10 runs them, and better: greeting, negotiation, envelope errors with
// the id echoed, and every client of every socket served at once with its own events.

import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { QmpTestClient } from '../helpers/qmp-client.js';

describe('QMP sessions', () => {
  let t: TestApp;

  beforeEach(async () => { t = await startApp(); });
  afterEach(async () => { await t.stop(); });

  it('greets with the QEMU 10.0.2 version keys and the oob capability, byte for byte in QEMU\'s member order', async () => {
    const c = await QmpTestClient.connect(t.qmpPath, { negotiate: false });
    expect(Object.keys(c.greeting['QMP'] as object)).to.deep.equal(['version', 'capabilities']);
    expect(c.greeting).to.deep.equal({ QMP: { version: { qemu: { micro: 2, minor: 0, major: 10 }, package: 'vifd 0.1.0' }, capabilities: ['oob'] } });
    c.close();
  });

  it('refuses commands before qmp_capabilities, echoing the id, and sends no events', async () => {
    const c = await QmpTestClient.connect(t.qmpPath, { negotiate: false });
    c.send('{"execute":"query-version","id":"pre"}');
    expect(await c.nextLine()).to.equal(
      '{"id": "pre", "error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with \'qmp_capabilities\'"}}\r\n');
    t.app.devices.add({ driver: 'xen-net-device', id: 'quiet' });
    await new Promise((r) => setTimeout(r, 50));
    expect(c.events).to.deep.equal([]);
    c.close();
  });

  it('negotiates once: a second qmp_capabilities is CommandNotFound', async () => {
    const c = await QmpTestClient.connect(t.qmpPath);
    c.send('{"execute":"qmp_capabilities"}');
    expect(await c.nextLine()).to.equal(
      '{"error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is already complete, command ignored"}}\r\n');
    c.close();
  });

  it('answers envelope errors with QEMU\'s texts', async () => {
    const c = await QmpTestClient.connect(t.qmpPath);
    const cases: Array<[string, string]> = [
      ['[1,2]', '{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}'],
      ['{}', '{"error": {"class": "GenericError", "desc": "QMP input lacks member \'execute\'"}}'],
      ['{"id":5}', '{"id": 5, "error": {"class": "GenericError", "desc": "QMP input lacks member \'execute\'"}}'],
      ['{"execute":1}', '{"error": {"class": "GenericError", "desc": "QMP input member \'execute\' must be a string"}}'],
      ['{"execute":"query-version","arguments":[],"id":"aa"}',
        '{"id": "aa", "error": {"class": "GenericError", "desc": "QMP input member \'arguments\' must be an object"}}'],
      ['{"execute":"query-version","extra":1,"id":"ex"}',
        '{"id": "ex", "error": {"class": "GenericError", "desc": "QMP input member \'extra\' is unexpected"}}'],
      ['{"exec-oob":"qmp_capabilities","id":1}', '{"id": 1, "error": {"class": "GenericError", "desc": "QMP input member \'exec-oob\' is unexpected"}}'],
      ['{"execute":"no-such-command","id":{"a": [1, 2], "b": {"c": null}}}',
        '{"id": {"a": [1, 2], "b": {"c": null}}, "error": {"class": "CommandNotFound", "desc": "The command no-such-command has not been found"}}'],
      ['{"execute":"query-version","arguments":{"x":1},"id":{"k":"v"}}',
        '{"id": {"k": "v"}, "error": {"class": "GenericError", "desc": "Parameter \'x\' is unexpected"}}'],
      ['{"execute":"device_del","arguments":{"id":1},"id":1}',
        '{"id": 1, "error": {"class": "GenericError", "desc": "Invalid parameter type for \'id\', expected: string"}}'],
      ['{"execute":"device_del","arguments":{},"id":4}', '{"id": 4, "error": {"class": "GenericError", "desc": "Parameter \'id\' is missing"}}'],
      ['{"execute": }', '{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}'],
    ];
    for (const [req, reply] of cases) {
      c.send(req);
      expect(await c.nextLine(), req).to.equal(reply + '\r\n');
    }
    c.close();
  });

  it('rejects an unknown capability and stays in negotiation mode', async () => {
    const c = await QmpTestClient.connect(t.qmpPath, { negotiate: false });
    c.send('{"execute":"qmp_capabilities","arguments":{"enable":["foo"]}}');
    expect(await c.nextLine()).to.equal('{"error": {"class": "GenericError", "desc": "Parameter \'null\' does not accept value \'foo\'"}}\r\n');
    c.send('{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}');
    expect(await c.nextLine()).to.equal('{"return": {}}\r\n');
    c.send('{"exec-oob":"query-version","id":1}');
    expect(await c.nextLine()).to.equal('{"id": 1, "error": {"class": "GenericError", "desc": "The command query-version does not support OOB"}}\r\n');
    c.close();
  });

  it('serves several clients on one socket at once, each negotiating on its own and each receiving every event', async () => {
    const a = await QmpTestClient.connect(t.qmpPath);
    const b = await QmpTestClient.connect(t.qmpPath);
    const pending = await QmpTestClient.connect(t.qmpPath, { negotiate: false });
    expect(await a.execute('device_add', { driver: 'xen-net-device', id: 'shared' })).to.deep.equal({ return: {} });
    expect(await b.execute('device_del', { id: 'shared' })).to.deep.equal({ return: {} });
    for (const c of [a, b]) {
      const ev = await c.waitEvent('DEVICE_DELETED');
      expect(ev['data']).to.deep.equal({ device: 'shared', path: '/machine/peripheral/shared' });
    }
    expect(pending.events).to.deep.equal([]);
    for (const c of [a, b, pending]) c.close();
  });

  it('answers a request whose sender half-closed the connection, then closes', async () => {
    const c = await QmpTestClient.connect(t.qmpPath);
    c.send('{"execute":"query-version","id":"complete"}');
    (c as unknown as { socket: { end(): void } }).socket.end();
    expect(JSON.parse(await c.nextLine())).to.have.property('id', 'complete');
    await c.waitClosed();
  });
});

describe('QMP on two sockets', () => {
  it('gives each -qmp socket its own sessions and the same events', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'vifd-2nd-'));
    const second = join(dir, 'qmp2.sock');
    const t = await startApp(['-qmp-pretty', `unix:${second},server=on,wait=off`]);
    try {
      const a = await QmpTestClient.connect(t.qmpPath);
      const b = await QmpTestClient.connect(second);
      a.send('{"execute":"device_add","arguments":{"driver":"xen-net-device","id":"x"}}');
      await a.nextLine();
      a.send('{"execute":"device_del","arguments":{"id":"x"}}');
      await a.nextLine();
      expect((await a.waitEvent('DEVICE_DELETED'))['data']).to.deep.equal({ device: 'x', path: '/machine/peripheral/x' });
      expect((await b.waitEvent('DEVICE_DELETED'))['data']).to.deep.equal({ device: 'x', path: '/machine/peripheral/x' });
      b.send('{"execute":"query-commands","id":1}');
      expect(await b.nextLine()).to.match(/^\{\r\n {4}"return": \[/);
      a.close();
      b.close();
    } finally {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
