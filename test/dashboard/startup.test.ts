// -dashboard on the command line, and the dashboard as part of vifd's start-up.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { VifdApp } from '../../src/cli/app.js';
import { setLogSink } from '../../src/common/log.js';
import { parseCommandLine } from '../../src/cli/options.js';

const VIFD_BIN = resolve(process.cwd(), 'bin/vifd.js');

async function busyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

describe('the dashboard at start-up', () => {
  describe('the command line', () => {
    it('turns the dashboard on at 127.0.0.1:8080 with the embedded defaults only', () => {
      const defaults = parseCommandLine([]);
      expect(defaults.dashboard).to.deep.equal({ host: '127.0.0.1', port: 8080, token: null });
      expect(defaults.defaultDashboard).to.equal(true);
      expect(parseCommandLine(['-qmp', 'unix:/x,server=on,wait=off']).dashboard).to.equal(null);
      expect(parseCommandLine(['-dashboard', 'none']).dashboard).to.equal(null);
      expect(parseCommandLine(['-dashboard', '127.0.0.1:8080']).defaultDashboard).to.equal(undefined);
    });

    it('parses HOST:PORT[,token=SECRET]', () => {
      expect(parseCommandLine(['-dashboard', 'localhost:9000']).dashboard).to.deep.equal({ host: 'localhost', port: 9000, token: null });
      expect(parseCommandLine(['--dashboard', '[::1]:0']).dashboard).to.deep.equal({ host: '::1', port: 0, token: null });
      expect(parseCommandLine(['-dashboard', '0.0.0.0:8443,token=abc']).dashboard).to.deep.equal({ host: '0.0.0.0', port: 8443, token: 'abc' });
      expect(() => parseCommandLine(['-dashboard', '8080'])).to.throw(/expected HOST:PORT/);
      expect(() => parseCommandLine(['-dashboard', 'localhost:70000'])).to.throw(/expected HOST:PORT/);
      expect(() => parseCommandLine(['-dashboard', 'localhost:8080,tok=x'])).to.throw(/Invalid parameter 'tok'/);
      expect(() => parseCommandLine(['-dashboard', '0.0.0.0:8080'])).to.throw(/-dashboard: 0.0.0.0 is not a loopback address/);
    });
  });

  describe('listening', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'vifd-dash-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    async function run(cfg: ReturnType<typeof parseCommandLine>): Promise<{ app: VifdApp; error: unknown; stop(): Promise<void> }> {
      let exited: () => void = () => {};
      const done = new Promise<void>((r) => { exited = r; });
      const app = new VifdApp(cfg, { createTap: () => null, onExit: () => exited() });
      let error: unknown;
      await app.start().catch((err: unknown) => { error = err; });
      return { app, error, async stop() { app.shutdown('host-signal'); await done; } };
    }

    it('fails to start when an explicit -dashboard cannot listen', async () => {
      const busy = await busyPort();
      try {
        const r = await run(parseCommandLine(['-qmp', `unix:${join(dir, 'q.sock')},server=on,wait=off`,
          '-dashboard', `127.0.0.1:${busy.port}`]));
        expect(String(r.error)).to.match(new RegExp(`-dashboard 127.0.0.1:${busy.port}: .*EADDRINUSE`));
        await r.stop();
      } finally {
        busy.server.close();
      }
    });

    it('runs without the default dashboard when its port is taken', async () => {
      const busy = await busyPort();
      const lines: string[] = [];
      const sinkBefore = setLogSink((line) => lines.push(line));
      try {
        const cfg = parseCommandLine([]);
        cfg.qmp = [{ path: join(dir, 'q.sock'), pretty: false }];
        cfg.dashboard = { host: '127.0.0.1', port: busy.port, token: null };
        const r = await run(cfg);
        expect(r.error).to.equal(undefined);
        expect(r.app.dashboard).to.equal(null);
        expect(lines.join('\n')).to.include(`-dashboard 127.0.0.1:${busy.port}: listen EADDRINUSE`);
        await r.stop();
      } finally {
        setLogSink(sinkBefore);
        busy.server.close();
      }
    });

    it('prints the URL and serves the page from the vifd command', async () => {
      const child = spawn(process.execPath, [VIFD_BIN, '-qmp', `unix:${join(dir, 'q.sock')},server=on,wait=off`,
        '-dashboard', '127.0.0.1:0,token=t0k'], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
        const deadline = Date.now() + 15000;
        let m: RegExpExecArray | null = null;
        while (!(m = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=t0k)\n/.exec(out))) {
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no dashboard URL in: ${out}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        const page = await fetch(m[1]!);
        expect(page.status).to.equal(200);
        expect(await page.text()).to.include('<title>vifd</title>');
        expect((await fetch(m[1]!.replace('?token=t0k', 'app.js'))).status).to.equal(401);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    });
  });
});
