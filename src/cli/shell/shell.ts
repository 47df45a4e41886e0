// `vifd shell`: an interactive QMP client with qmp-shell's syntax and behaviour, on
// node:readline: history (kept across runs), tab completion of the server's commands
// (query-commands, or HMP's help in -H mode), events shown when an empty line is entered.
// It also reads commands from a pipe for scripts: no prompt then, exit 0 at the end of input,
// and 1 whenever the server drops the connection.

import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { QmpClient, type QmpMessage } from '../../qmp/client.js';
import { CommandLineParser, ShellSyntaxError, type QmpRequest } from './command-line.js';
import { pyJson } from './py-json.js';

export interface ShellOptions {
  path: string;
  hmp: boolean;
  pretty: boolean;
  verbose: boolean;
  negotiate: boolean;
  /** Where history is kept; null for none. */
  historyFile: string | null;
}

export interface ShellIo {
  input: Readable & { isTTY?: boolean };
  output: Writable & { isTTY?: boolean };
  error: Writable;
}

export const SHELL_USAGE = `usage: vifd shell [-H] [-p] [-v] [-N] PATH

An interactive QMP client with qmp-shell's syntax: cmd key=value ... (integers and true/false
are converted, values starting with { or [ are JSON, dotted keys nest), transaction( ... ),
or a raw JSON request. An empty line shows the events received so far.

  -H   HMP mode: lines are human monitor commands (human-monitor-command)
  -p   pretty-print replies
  -v   verbose: print each request before sending it
  -N   skip capabilities negotiation
`;

const HISTORY_LIMIT = 1000;
/** A reply may take long (device_add waits for nothing, but a busy server may); a drop ends the wait at once. */
const REPLY_TIMEOUT_MS = 24 * 3600 * 1000;

export class ShellArgsError extends Error {}

export function parseShellArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ShellOptions {
  const o: ShellOptions = {
    path: '', hmp: false, pretty: false, verbose: false, negotiate: true,
    historyFile: env['VIFD_SHELL_HISTORY'] ?? join(homedir(), '.vifd-shell_history'),
  };
  for (const arg of argv) {
    if (arg === '-H' || arg === '--hmp') o.hmp = true;
    else if (arg === '-p' || arg === '--pretty') o.pretty = true;
    else if (arg === '-v' || arg === '--verbose') o.verbose = true;
    else if (arg === '-N' || arg === '--skip-negotiation') o.negotiate = false;
    else if (arg.startsWith('-')) throw new ShellArgsError(`unknown option '${arg}'`);
    else if (o.path) throw new ShellArgsError(`unexpected argument '${arg}'`);
    else o.path = arg.replace(/^unix:/, '').replace(/,.*$/, '');
  }
  if (!o.path) throw new ShellArgsError('the QMP socket path is missing');
  if (o.historyFile === '') o.historyFile = null;
  return o;
}

export class Shell {
  private readonly parser: CommandLineParser;
  private readonly interactive: boolean;
  private completions: string[] = [];
  private rl: Interface | null = null;

  private constructor(private readonly client: QmpClient, private readonly opts: ShellOptions, private readonly io: ShellIo) {
    this.parser = new CommandLineParser({ hmp: opts.hmp });
    this.interactive = io.input.isTTY === true;
  }

  /** Connects, negotiates and learns the command names; throws when the server is not there. */
  static async connect(opts: ShellOptions, io: ShellIo): Promise<Shell> {
    const client = await QmpClient.connect(opts.path, { negotiate: false });
    const shell = new Shell(client, opts, io);
    if (opts.negotiate) {
      const caps = ((client.greeting['QMP'] as QmpMessage | undefined)?.['capabilities'] ?? []) as unknown[];
      await shell.request({ execute: 'qmp_capabilities', arguments: caps.includes('oob') ? { enable: ['oob'] } : {} });
      await shell.learnCommands();
    }
    return shell;
  }

  /** Runs until the end of input (0) or until the server goes away (1). */
  run(): Promise<number> {
    const { input, output } = this.io;
    const rl = createInterface({
      input, output, terminal: this.interactive, historySize: HISTORY_LIMIT,
      completer: (line: string) => this.complete(line),
    });
    this.rl = rl;
    if (this.interactive) {
      (rl as unknown as { history: string[] }).history = this.loadHistory();
      const v = ((this.client.greeting['QMP'] as QmpMessage)['version'] as QmpMessage)['qemu'] as Record<string, number>;
      output.write(`Welcome to the ${this.opts.hmp ? 'HMP' : 'QMP low-level'} shell!\n`);
      output.write(`Connected to QEMU ${v['major']}.${v['minor']}.${v['micro']}\n\n`);
    }
    return new Promise<number>((resolve) => {
      let done = false;
      const finish = (code: number) => {
        if (done) return;
        done = true;
        rl.close();
        this.client.close();
        resolve(code);
      };
      let chain = Promise.resolve(true);
      rl.on('line', (line) => {
        // Lines from a pipe arrive faster than replies: they run one after another.
        chain = chain.then(async (alive) => {
          if (!alive) return false;
          const ok = await this.execute(line);
          if (!ok) finish(1);
          else this.prompt();
          return ok;
        });
      });
      rl.on('close', () => void chain.then((alive) => finish(alive ? 0 : 1)));
      void this.client.waitClosed(REPLY_TIMEOUT_MS).then(() => {
        this.io.error.write('Disconnected\n');
        finish(1);
      }, () => undefined);
      this.prompt();
    });
  }

  /** One input line; false when the connection is gone. */
  async execute(line: string): Promise<boolean> {
    if (this.interactive && line.trim() !== '') this.saveHistory(line);
    if (line.trim() === '') {
      this.showEvents();
      return !this.client.isClosed;
    }
    let request: QmpRequest | null;
    try {
      request = this.parser.parse(line);
    } catch (err) {
      if (!(err instanceof ShellSyntaxError)) throw err;
      this.io.error.write(`Error while parsing command line: ${err.message}\n` +
        'command format: <command-name>  [arg-name1=arg1] ... [arg-nameN=argN]\n');
      return true;
    }
    if (request === null) return true;
    if (this.opts.verbose) this.print(request);
    let reply: QmpMessage;
    try {
      reply = await this.request(request);
    } catch {
      return false;
    }
    if (this.opts.hmp) this.printHmp(reply);
    else this.print(reply);
    return true;
  }

  private async request(request: QmpRequest): Promise<QmpMessage> {
    this.client.send(JSON.stringify(request));
    return JSON.parse(await this.client.nextLine(REPLY_TIMEOUT_MS)) as QmpMessage;
  }

  private async learnCommands(): Promise<void> {
    if (this.opts.hmp) {
      const r = await this.request({ execute: 'human-monitor-command', arguments: { 'command-line': 'help' } });
      const text = typeof r['return'] === 'string' ? r['return'] : '';
      this.completions = text.split(/\r?\n/).flatMap((l) => (l.split(' ')[0] ?? '').split('|')).filter(Boolean);
      return;
    }
    const r = await this.request({ execute: 'query-commands', arguments: {} });
    const list = Array.isArray(r['return']) ? r['return'] as unknown[] : [];
    this.completions = list.map((c) => (c as { name?: unknown }).name).filter((n): n is string => typeof n === 'string');
  }

  /** Completes the command word (qmp-shell completes command names only). */
  private complete(line: string): [string[], string] {
    if (/\s/.test(line.trimStart())) return [[], line];
    const word = line.trimStart();
    const hits = this.completions.filter((c) => c.startsWith(word)).sort();
    return [hits, word];
  }

  private prompt(): void {
    if (!this.interactive || !this.rl) return;
    this.rl.setPrompt(this.parser.inTransaction ? 'TRANS> ' : '(QEMU) ');
    this.rl.prompt();
  }

  private showEvents(): void {
    for (const ev of this.client.events.splice(0)) this.print(ev);
  }

  private print(msg: unknown): void {
    this.io.output.write(`${pyJson(msg, this.opts.pretty)}\n`);
  }

  private printHmp(reply: QmpMessage): void {
    if (typeof reply['return'] === 'string') {
      this.io.output.write(reply['return'].replace(/\r\n/g, '\n'));
      return;
    }
    const e = reply['error'] as { class?: string; desc?: string } | undefined;
    if (e) this.io.output.write(`${e.class}: ${e.desc}\n`);
  }

  private loadHistory(): string[] {
    if (!this.opts.historyFile) return [];
    try {
      return readFileSync(this.opts.historyFile, 'utf8').split('\n').filter(Boolean).slice(-HISTORY_LIMIT).reverse();
    } catch {
      return [];
    }
  }

  private saveHistory(line: string): void {
    if (!this.opts.historyFile) return;
    try {
      appendFileSync(this.opts.historyFile, `${line}\n`);
    } catch {
      // history is a convenience; a read-only home must not break the shell
    }
  }
}

/** `vifd shell ...`: returns the exit status. */
export async function shellMain(argv: readonly string[], io: ShellIo = {
  input: process.stdin, output: process.stdout, error: process.stderr,
}): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.output.write(SHELL_USAGE);
    return 0;
  }
  let opts: ShellOptions;
  try {
    opts = parseShellArgs(argv);
  } catch (err) {
    io.error.write(`vifd shell: ${(err as Error).message}\n${SHELL_USAGE}`);
    return 2;
  }
  let shell: Shell;
  try {
    shell = await Shell.connect(opts, io);
  } catch (err) {
    io.error.write(`vifd shell: cannot connect to ${opts.path}: ${(err as Error).message}\n`);
    return 1;
  }
  return shell.run();
}
