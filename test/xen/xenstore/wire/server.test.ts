// The xenstore socket as clients see it: one privileged dom0 connection per socket, replies in
// order with cx's interleaving of watch events, frames reassembled however they are cut, and
// malformed input answered or dropped as cx does, without harm to other connections.

import { expect } from 'chai';
import { XsMsgType as T, XS_HEADER_SIZE } from '../../../../src/xen/xenstore/wire/codec.js';
import { RawXsClient, serveStore, type ServedStore } from '../../../helpers/xs-wire.js';

const show = RawXsClient.show;

function header(type: number, len: number, reqId = 1, txId = 0): Buffer {
  const h = Buffer.alloc(XS_HEADER_SIZE);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(reqId, 4);
  h.writeUInt32LE(txId, 8);
  h.writeUInt32LE(len, 12);
  return h;
}

describe('xenstore socket server', () => {
  let s: ServedStore;
  let a: RawXsClient;
  let b: RawXsClient;

  beforeEach(async () => {
    s = await serveStore();
    a = await RawXsClient.connect(s.path);
    b = await RawXsClient.connect(s.path);
  });

  afterEach(async () => {
    a.close();
    b.close();
    await s.stop();
  });

  it('echoes req_id and tx_id, also in ERROR replies', async () => {
    a.send(T.READ, '/nope\0', 0, 0xdeadbeef);
    await a.until(() => a.received.length === 1);
    expect(a.received[0]).to.deep.include({ type: T.ERROR, reqId: 0xdeadbeef, txId: 0 });
    const start = await a.request(T.TRANSACTION_START, '\0');
    const tx = Number(start.payload.toString('latin1', 0, start.payload.length - 1));
    const r = await a.request(T.READ, '/nope\0', tx);
    expect(r).to.deep.include({ type: T.ERROR, txId: tx });
    expect(show(r)).to.equal('ERROR ENOENT|');
  });

  it("sends the events a request causes on its own connection before its reply (cx's order), WATCH's after", async () => {
    a.send(T.WATCH, '/w\0tok\0');
    a.send(T.WRITE, '/w/x\0' + '1');
    a.send(T.RM, '/w\0');
    await a.until(() => a.received.length === 6);
    expect(a.received.map(show)).to.deep.equal([
      'OK|', 'EVENT /w|tok|', 'EVENT /w/x|tok|', 'OK|', 'EVENT /w|tok|', 'OK|',
    ]);
    expect(a.received.map((m) => m.type)).to.deep.equal([T.WATCH, T.WATCH_EVENT, T.WATCH_EVENT, T.WRITE, T.WATCH_EVENT, T.RM]);
    expect(a.received.filter((m) => m.type === T.WATCH_EVENT).every((m) => m.reqId === 0 && m.txId === 0)).to.equal(true);
  });

  it('interleaves events caused by other connections', async () => {
    await a.request(T.WATCH, '/shared\0mine\0');
    await a.until(() => a.received.length === 2);
    expect(show(await b.request(T.WRITE, '/shared/k\0v'))).to.equal('OK|');
    await a.until(() => a.received.length === 3, 3000, 'the event');
    expect(show(a.received[2]!)).to.equal('EVENT /shared/k|mine|');
  });

  it('gives each connection its own transactions, watches and relative paths', async () => {
    const ta = await a.request(T.TRANSACTION_START, '\0');
    const tb = await b.request(T.TRANSACTION_START, '\0');
    expect(show(ta)).to.equal('1|');
    expect(show(tb)).to.equal('1|');
    expect(show(await b.request(T.WRITE, 'rel\0b', 1))).to.equal('OK|');
    expect(show(await a.request(T.READ, 'rel\0', 1))).to.equal('ERROR ENOENT|');
    expect(show(await b.request(T.TRANSACTION_END, 'T\0', 1))).to.equal('OK|');
    expect(s.store.entries().find((e) => e.path === '/local/domain/0/rel')?.value.toString()).to.equal('b');
    expect(show(await a.request(T.TRANSACTION_END, 'F\0', 1))).to.equal('OK|');
    await a.request(T.WATCH, 'rel\0t\0');
    expect(show(await b.request(T.UNWATCH, 'rel\0t\0'))).to.equal('ERROR ENOENT|');
    await a.until(() => a.received.some((m) => m.type === T.WATCH_EVENT));
    expect(show(a.received.find((m) => m.type === T.WATCH_EVENT)!)).to.equal('EVENT rel|t|');
  });

  it('drops watches and open transactions when a client goes', async () => {
    await a.request(T.WATCH, '/gone\0t\0');
    await a.request(T.TRANSACTION_START, '\0');
    expect(s.store.watches.countForDomain(0)).to.equal(1);
    a.close();
    const deadline = Date.now() + 3000;
    while (s.server.connectionCount !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.server.connectionCount).to.equal(1);
    expect(s.store.watches.countForDomain(0)).to.equal(0);
    expect(s.store.openTransactionCount(0)).to.equal(0);
  });

  it('reassembles a header and a payload written separately, and a frame cut in odd places', async () => {
    const payload = Buffer.from('/split\0value');
    a.writeRaw(header(T.WRITE, payload.length, 9));
    await new Promise((r) => setTimeout(r, 30));
    a.writeRaw(payload.subarray(0, 3));
    await new Promise((r) => setTimeout(r, 30));
    a.writeRaw(Buffer.concat([payload.subarray(3), header(T.READ, 7, 10).subarray(0, 5)]));
    await new Promise((r) => setTimeout(r, 30));
    a.writeRaw(Buffer.concat([header(T.READ, 7, 10).subarray(5), Buffer.from('/split\0')]));
    await a.until(() => a.received.length === 2);
    expect(a.received.map((m) => [m.reqId, show(m)])).to.deep.equal([[9, 'OK|'], [10, 'value']]);
  });

  it('accepts a 4096-byte payload', async () => {
    const value = 'v'.repeat(4096 - '/big\0'.length);
    expect(show(await a.request(T.WRITE, `/big\0${value}`))).to.equal('OK|');
    expect((await a.request(T.READ, '/big\0')).payload.length).to.equal(value.length);
  });

  it('drops a connection that announces a 4097-byte payload; the others carry on', async () => {
    a.writeRaw(header(T.WRITE, 4097));
    await a.until(() => a.ended, 3000, 'the connection to be dropped');
    expect(a.received).to.deep.equal([]);
    expect(show(await b.request(T.WRITE, '/still\0here'))).to.equal('OK|');
    const c = await RawXsClient.connect(s.path);
    expect(show(await c.request(T.READ, '/still\0'))).to.equal('here');
    c.close();
  });

  it('answers malformed requests with ERROR and keeps the connection', async () => {
    expect(show(await a.request(T.READ, '/no-nul'))).to.equal('ERROR EINVAL|');
    expect(show(await a.request(T.WRITE, '/no-nul-at-all'))).to.equal('ERROR EINVAL|');
    expect(show(await a.request(T.WATCH, '/only-path\0'))).to.equal('ERROR EINVAL|');
    expect(show(await a.request(T.WATCH_EVENT, '/p\0t\0'))).to.equal('ERROR ENOSYS|');
    expect(show(await a.request(T.ERROR, 'EINVAL\0'))).to.equal('ERROR ENOSYS|');
    expect(show(await a.request(27, ''))).to.equal('ERROR ENOSYS|');
    expect(show(await a.request(0xffffffff, 'x'))).to.equal('ERROR ENOSYS|');
    expect(show(await a.request(T.READ, '/bad path!\0'))).to.equal('ERROR EINVAL|');
    expect(show(await a.request(T.WRITE, '/ok\0fine'))).to.equal('OK|');
  });

  it('reads the bytes after a length that is too short as the next header', async () => {
    // len says 2, so the READ is "/a" (no NUL: EINVAL); "\0" + 15 zero bytes are a CONTROL header, len 0.
    a.writeRaw(Buffer.concat([header(T.READ, 2, 5), Buffer.from('/a\0'), Buffer.alloc(15)]));
    await a.until(() => a.received.length === 2);
    expect(a.received.map((m) => [m.reqId, show(m)])).to.deep.equal([[5, 'ERROR EINVAL|'], [0, 'ERROR ENOSYS|']]);
  });

  it('waits for the rest of a payload a length promises, answering nothing meanwhile', async () => {
    a.writeRaw(Buffer.concat([header(T.WRITE, 20, 6), Buffer.from('/wait\0')]));
    await new Promise((r) => setTimeout(r, 100));
    expect(a.received).to.deep.equal([]);
    expect(show(await b.request(T.READ, '/wait\0'))).to.equal('ERROR ENOENT|');
    a.writeRaw(Buffer.from('x'.repeat(14)));
    await a.until(() => a.received.length === 1);
    expect(show(a.received[0]!)).to.equal('OK|');
  });

  it('survives random garbage from many clients and still serves', async function () {
    this.timeout(20000);
    let seed = 12345;
    const rand = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
    const clients = await Promise.all(Array.from({ length: 8 }, () => RawXsClient.connect(s.path)));
    for (const c of clients) {
      for (let i = 0; i < 20; i++) {
        const chunk = Buffer.alloc(1 + (rand() % 200));
        for (let j = 0; j < chunk.length; j++) chunk[j] = rand() & 0xff;
        // Keep some lengths small so that garbage is also decoded as requests, not only dropped.
        if (i % 2 === 0 && chunk.length >= 16) chunk.writeUInt32LE(rand() % 64, 12);
        if (!c.ended) c.writeRaw(chunk);
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const c of clients) c.close();
    expect(show(await b.request(T.WRITE, '/alive\0yes'))).to.equal('OK|');
    const fresh = await RawXsClient.connect(s.path);
    expect(show(await fresh.request(T.READ, '/alive\0'))).to.equal('yes');
    fresh.close();
  });
});

describe('xenstore socket server: a client that stops reading', () => {
  it('is dropped once its unread events pass the output limit; the writer is unaffected', async function () {
    this.timeout(20000);
    const s = await serveStore(undefined, 64 * 1024);
    const writer = await RawXsClient.connect(s.path);
    const { connect } = await import('node:net');
    const stuck = connect(s.path);
    await new Promise((r) => stuck.once('connect', r));
    stuck.pause();
    let closed = false;
    stuck.on('close', () => { closed = true; });
    // A hundred watches on `/`: every write queues a hundred events nobody reads.
    for (let i = 0; i < 100; i++) {
      const payload = Buffer.from(`/\0token-${i}\0`);
      stuck.write(Buffer.concat([header(T.WATCH, payload.length), payload]));
    }
    const value = 'x'.repeat(100);
    for (let i = 0; i < 5000 && !closed && s.server.connectionCount > 1; i++) {
      expect(show(await writer.request(T.WRITE, `/flood/k${i % 50}\0${value}`))).to.equal('OK|');
    }
    const deadline = Date.now() + 5000;
    while (s.server.connectionCount > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(s.server.connectionCount).to.equal(1);
    expect(show(await writer.request(T.READ, '/flood/k0\0'))).to.equal(value);
    stuck.destroy();
    writer.close();
    await s.stop();
  });
});
