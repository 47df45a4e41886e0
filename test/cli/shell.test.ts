// `vifd shell` as users run it: in a real pseudo-terminal (node-pty) with the prompt, tab
// completion from query-commands and history; and through a pipe, for scripts, with its
// exit codes (0 at the end of input, 1 when the server drops the connection).

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pty from 'node-pty';
import { startApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/qmp-client.js';
import { VIFD_BIN } from '../helpers/vifd-process.js';

function runPiped(args: string[], input: string | null, env: NodeJS.ProcessEnv = {}): {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>; child: ReturnType<typeof spawn>; stdout(): string;
} {
  const child = spawn(process.execPath, [VIFD_BIN, 'shell', ...args], {
    env: { ...process.env, VIFD_SHELL_HISTORY: '', ...env }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  if (input !== null) child.stdin.end(input);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) =>
    child.on('exit', (code) => r({ code, stdout, stderr })));
  return { done, child, stdout: () => stdout };
}

describe('vifd shell', function () {
  this.timeout(30000);
  let t: TestApp;
  let dir: string;

  beforeEach(async () => {
    t = await startApp();
    dir = mkdtempSync(join(tmpdir(), 'vifd-shell-'));
  });

  afterEach(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('through a pipe', () => {
    it('runs each line in order, prints replies as qmp-shell does, events on an empty line, and exits 0', async () => {
      const script = [
        'query-version',
        'netdev_add type=hubport id=h0 hubid=0',
        'device_add driver=xen-net-device id=nic0 netdev=h0 mac=00:16:3e:00:00:05',
        'set_link name=nic0 up=false',
        'no-such-command',
        'bad syntax',
        '',
      ].join('\n') + '\n';
      const { done } = runPiped([t.qmpPath], script);
      const r = await done;
      expect(r.code).to.equal(0);
      const lines = r.stdout.split('\n');
      expect(lines[0]).to.equal('{"return": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "vifd 0.1.0"}}');
      expect(lines.slice(1, 5)).to.deep.equal([
        '{"return": {}}', '{"return": {}}', '{"return": {}}',
        '{"error": {"class": "CommandNotFound", "desc": "The command no-such-command has not been found"}}',
      ]);
      expect(lines.slice(5).some((l) => l.includes('"event": "__com.vifd_VIF_STATE"'))).to.equal(true);
      expect(r.stderr).to.contain("Error while parsing command line: Expected a key=value pair, got 'syntax'");
      expect(r.stdout).to.not.contain('(QEMU)');
      expect(t.app.devices.find('nic0')!.properties()['link']).to.equal('down');
    });

    it('speaks HMP with -H and shows the requests with -v', async () => {
      const r = await runPiped(['-H', '-v', t.qmpPath], 'netdev_add hubport,id=h1,hubid=4\ninfo network\n').done;
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal(
        '{"execute": "human-monitor-command", "arguments": {"command-line": "netdev_add hubport,id=h1,hubid=4", "cpu-index": 0}}\n' +
        '{"execute": "human-monitor-command", "arguments": {"command-line": "info network", "cpu-index": 0}}\n' +
        'hub 4\n \\ h1: index=0,type=hubport,hubid=4\n');
    });

    it('exits 1 when the server drops the connection', async () => {
      const { done, child, stdout } = runPiped([t.qmpPath], null);
      child.stdin!.write('query-version\n');
      await eventually(() => stdout().includes('"return"'), 5000, 'the shell\'s first reply');
      await t.stop();
      t = undefined as unknown as TestApp;
      const r = await done;
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('Disconnected');
    });

    it('exits 1 with a message when nothing listens at the path', async () => {
      const r = await runPiped([join(dir, 'nothing.sock')], '').done;
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/cannot connect to .*nothing\.sock/);
    });
  });

  describe('in a terminal (node-pty)', () => {
    function open(args: string[]) {
      const history = join(dir, 'history');
      const term = pty.spawn(process.execPath, [VIFD_BIN, 'shell', ...args], {
        name: 'xterm', cols: 200, rows: 40, cwd: process.cwd(),
        env: { ...process.env, VIFD_SHELL_HISTORY: history } as Record<string, string>,
      });
      let screen = '';
      term.onData((d) => { screen += d; });
      const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
      let mark = 0;
      /** Waits for `text` in what the terminal printed since the last wait. */
      const waitFor = async (text: string | RegExp) => {
        await eventually(() => {
          const seen = screen.slice(mark);
          const i = typeof text === 'string' ? seen.indexOf(text) : seen.search(text);
          if (i < 0) return false;
          mark += i + 1;
          return true;
        }, 10000, `${String(text)} on the terminal; it shows: ${JSON.stringify(screen.slice(mark))}`);
      };
      /** Types like a person, one key at a time (a chunk of several keys reads as a paste, without completion). */
      const type = async (keys: string[] | string) => {
        for (const k of typeof keys === 'string' ? [...keys] : keys) {
          term.write(k);
          await new Promise((r) => setTimeout(r, 15));
        }
      };
      return { term, waitFor, type, exited, history, screen: () => screen };
    }

    it('greets, prompts, completes command names with tab, recalls history with the up arrow, and exits 0 on ^D', async () => {
      const s = open([t.qmpPath]);
      await s.waitFor('Welcome to the QMP low-level shell!');
      await s.waitFor('Connected to QEMU 10.0.2');
      await s.waitFor('(QEMU) ');
      await s.type('query-vers\t');
      await s.waitFor('query-version');
      await s.type('\r');
      await s.waitFor('{"return": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "vifd 0.1.0"}}');
      await s.waitFor('(QEMU) ');
      await s.type('netdev_a\t');
      await s.waitFor('netdev_add');
      await s.type(' type=hubport id=h0 hubid=0\r');
      await s.waitFor('{"return": {}}');
      await s.waitFor('(QEMU) ');
      expect(t.app.netdevs.get('h0')?.type).to.equal('hubport');
      // Two tabs on an ambiguous prefix list the candidates.
      await s.type('query-\t\t');
      await s.waitFor(/query-commands\s+query-/);
      await s.type(['\x15']); // ^U: clear the line
      await s.type(['\x1b[A', '\x1b[A', '\r']); // up twice: query-version
      await s.waitFor('{"return": {"qemu"');
      s.term.write('\x04');
      expect(await s.exited).to.equal(0);
      expect(readFileSync(s.history, 'utf8').split('\n').filter(Boolean))
        .to.deep.equal(['query-version', 'netdev_add type=hubport id=h0 hubid=0', 'query-version']);
    });

    it('pretty-prints with -p and shows the transaction prompt', async () => {
      const s = open(['-p', t.qmpPath]);
      await s.waitFor('(QEMU) ');
      s.term.write('query-version\r');
      await s.waitFor('{\r\n    "return": {\r\n        "package": "vifd 0.1.0",');
      s.term.write('transaction(\r');
      await s.waitFor('TRANS> ');
      s.term.write('abort )\r');
      await s.waitFor('"desc": "The command transaction has not been found"');
      await s.waitFor('(QEMU) ');
      s.term.write('\x04');
      expect(await s.exited).to.equal(0);
    });

    it('completes HMP commands in -H mode', async () => {
      const s = open(['-H', t.qmpPath]);
      await s.waitFor('Welcome to the HMP shell!');
      await s.waitFor('(QEMU) ');
      await s.type('inf\t');
      await s.waitFor('info');
      s.term.write(' version\r');
      await s.waitFor('10.0.2vifd 0.1.0');
      s.term.write('\x04');
      expect(await s.exited).to.equal(0);
    });
  });
});
