// The dashboard's HTTP side with fastify's inject (no port), and the WebSocket upgrade rules
// with a real ws client on 127.0.0.1:0.

import { expect } from 'chai';
import WebSocket from 'ws';
import { buildDashboard, Dashboard } from '../../src/dashboard/server.js';
import { parseCommandLine } from '../../src/cli/options.js';
import { startApp, type TestApp } from '../helpers/app.js';

/** Opens a WebSocket and resolves with the first message, or rejects with the HTTP status. */
function firstMessage(url: string, opts: WebSocket.ClientOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.once('message', (m) => {
      resolve(String(m));
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

describe('dashboard serving', () => {
  let t: TestApp;
  before(async () => {
    t = await startApp();
  });
  after(async () => {
    await t.stop();
  });

  describe('on loopback without a token', () => {
    it('serves the page, its modules and uPlot', async () => {
      const app = await buildDashboard(t.app.qmp, { host: '127.0.0.1', port: 0 });
      try {
        const page = await app.inject({ url: '/', headers: { host: '127.0.0.1:8080' } });
        expect(page.statusCode).to.equal(200);
        expect(page.headers['content-type']).to.match(/text\/html/);
        expect(page.body).to.include('id="vif-rows"');
        for (const url of ['/app.js', '/qmp.js', '/style.css', '/vendor/uplot/uPlot.esm.js', '/vendor/uplot/uPlot.min.css']) {
          const r = await app.inject({ url, headers: { host: 'localhost:8080' } });
          expect(r.statusCode, url).to.equal(200);
        }
        expect(page.body).to.include('<link rel="icon" href="favicon.svg"');
        const icon = await app.inject({ url: '/favicon.svg', headers: { host: 'localhost' } });
        expect(icon.statusCode).to.equal(200);
        expect(icon.headers['content-type']).to.match(/^image\/svg\+xml/);
        expect((await app.inject({ url: '/nope.js', headers: { host: 'localhost' } })).statusCode).to.equal(404);
      } finally {
        await app.close();
      }
    });

    it('refuses a Host that is not a loopback name (DNS rebinding)', async () => {
      const app = await buildDashboard(t.app.qmp, { host: '127.0.0.1', port: 0 });
      try {
        const r = await app.inject({ url: '/', headers: { host: 'evil.example:8080' } });
        expect(r.statusCode).to.equal(403);
      } finally {
        await app.close();
      }
    });
  });

  describe('with a token', () => {
    const token = 's3cret-token';

    it('answers 401 to every request without the token', async () => {
      const app = await buildDashboard(t.app.qmp, { host: '0.0.0.0', port: 0, token });
      try {
        for (const url of ['/', '/app.js', '/vendor/uplot/uPlot.esm.js', '/qmp']) {
          expect((await app.inject({ url, headers: { host: '10.0.0.1:8080' } })).statusCode, url).to.equal(401);
        }
        expect((await app.inject({ url: '/?token=wrong', headers: { host: 'h' } })).statusCode).to.equal(401);
        expect((await app.inject({ url: '/', headers: { host: 'h', authorization: 'Bearer wrong' } })).statusCode).to.equal(401);
        expect((await app.inject({ url: '/', headers: { host: 'h', cookie: 'vifd_token=s3cret' } })).statusCode).to.equal(401);
      } finally {
        await app.close();
      }
    });

    it('accepts it as ?token=, as a bearer token or as the cookie the first page load sets', async () => {
      const app = await buildDashboard(t.app.qmp, { host: '0.0.0.0', port: 0, token });
      try {
        const first = await app.inject({ url: `/?token=${token}`, headers: { host: '10.0.0.1:8080' } });
        expect(first.statusCode).to.equal(200);
        const cookie = String(first.headers['set-cookie']);
        expect(cookie).to.match(/^vifd_token=s3cret-token; Path=\/; HttpOnly; SameSite=Strict$/);
        const viaCookie = await app.inject({ url: '/app.js', headers: { host: '10.0.0.1:8080', cookie: cookie.split(';')[0]! } });
        expect(viaCookie.statusCode).to.equal(200);
        const viaBearer = await app.inject({ url: '/style.css', headers: { host: 'x', authorization: `Bearer ${token}` } });
        expect(viaBearer.statusCode).to.equal(200);
      } finally {
        await app.close();
      }
    });

    it('will not listen on a non-loopback address without one', async () => {
      let error: unknown;
      try {
        await buildDashboard(t.app.qmp, { host: '0.0.0.0', port: 0 });
      } catch (err) {
        error = err;
      }
      expect(String(error)).to.match(/not a loopback address, so token=SECRET is required/);
      expect(() => parseCommandLine(['-dashboard', '0.0.0.0:8080'])).to.throw(/-dashboard: 0.0.0.0 is not a loopback address/);
    });
  });

  describe('the WebSocket', () => {
    it('is a QMP session: greeting, negotiation, commands', async () => {
      const d = await Dashboard.listen(t.app.qmp, { host: '127.0.0.1', port: 0 });
      try {
        const ws = new WebSocket(`ws://127.0.0.1:${d.port}/qmp`, { origin: `http://127.0.0.1:${d.port}` });
        const messages: string[] = [];
        const got = (n: number) => new Promise<void>((resolve) => {
          const check = () => (messages.length >= n ? resolve() : setTimeout(check, 10));
          check();
        });
        ws.on('message', (m) => messages.push(String(m)));
        await got(1);
        expect(JSON.parse(messages[0]!)).to.have.nested.property('QMP.version.qemu.major', 10);
        expect(messages[0]!.endsWith('\r\n')).to.equal(false);
        ws.send('{"execute":"query-version","id":1}');
        await got(2);
        expect(JSON.parse(messages[1]!).error.class).to.equal('CommandNotFound');
        ws.send('{"execute":"qmp_capabilities"}');
        ws.send('{"execute":"query-version","id":"v"}');
        await got(4);
        expect(messages[2]).to.equal('{"return": {}}');
        expect(JSON.parse(messages[3]!)).to.deep.include({ id: 'v' });
        ws.close();
      } finally {
        await d.close();
      }
    });

    it('is refused to a page of another origin', async () => {
      const d = await Dashboard.listen(t.app.qmp, { host: '127.0.0.1', port: 0 });
      try {
        const url = `ws://127.0.0.1:${d.port}/qmp`;
        let refused = await firstMessage(url, { origin: 'http://evil.example' }).catch((e: Error) => e.message);
        expect(refused).to.equal('HTTP 403');
        refused = await firstMessage(url, { origin: `http://localhost:${d.port + 1}` }).catch((e: Error) => e.message);
        expect(refused).to.equal('HTTP 403');
        refused = await firstMessage(url, { origin: 'null' }).catch((e: Error) => e.message);
        expect(refused).to.equal('HTTP 403');
        // Its own origin, and clients that are not browsers (no Origin), get the greeting.
        expect(await firstMessage(url, { origin: `http://127.0.0.1:${d.port}` })).to.match(/^\{"QMP"/);
        expect(await firstMessage(url)).to.match(/^\{"QMP"/);
      } finally {
        await d.close();
      }
    });

    it('needs the token when one is configured', async () => {
      const d = await Dashboard.listen(t.app.qmp, { host: '127.0.0.1', port: 0, token: 'tok' });
      try {
        const url = `ws://127.0.0.1:${d.port}/qmp`;
        const origin = `http://127.0.0.1:${d.port}`;
        expect(await firstMessage(url, { origin }).catch((e: Error) => e.message)).to.equal('HTTP 401');
        expect(await firstMessage(`${url}?token=bad`, { origin }).catch((e: Error) => e.message)).to.equal('HTTP 401');
        expect(await firstMessage(`${url}?token=tok`, { origin: 'http://evil.example' }).catch((e: Error) => e.message)).to.equal('HTTP 403');
        expect(await firstMessage(url, { origin, headers: { cookie: 'vifd_token=tok' } })).to.match(/^\{"QMP"/);
        expect(d.url).to.equal(`http://127.0.0.1:${d.port}/?token=tok`);
      } finally {
        await d.close();
      }
    });
  });
});
