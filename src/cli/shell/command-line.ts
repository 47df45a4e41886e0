// qmp-shell's command syntax (python/qemu/qmp/qmp_shell.py), as a pure parser:
//
//   cmd key=value key.sub=value ...      → {"execute": cmd, "arguments": {...}}
//   transaction( type k=v ...            → starts collecting actions ({type, data})
//   type k=v ... )   or a bare )          → sends {"execute": "transaction", "arguments": {"actions": [...]}}
//   {"execute": ...}                      → sent as it is
//
// Values: integers and true/false become JSON numbers and booleans, values starting with { or [
// are parsed as JSON, anything else is a string. Dotted keys nest. In HMP mode every line is a
// human-monitor-command with cpu-index 0, as qmp-shell -H sends it.

export type QmpRequest = Record<string, unknown>;

export class ShellSyntaxError extends Error {}

/** Splits on blanks outside quotes and outside {...} / [...], so JSON values may hold spaces. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      cur += c;
      if (c === '\\' && i + 1 < line.length) cur += line[++i]!;
      else if (c === quote) quote = null;
      continue;
    }
    if (/\s/.test(c) && depth === 0) {
      if (started) out.push(cur);
      cur = '';
      started = false;
      continue;
    }
    started = true;
    cur += c;
    if (c === '"' || c === "'") quote = c;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && depth > 0) depth--;
  }
  if (quote) throw new ShellSyntaxError('unterminated quote');
  if (started) out.push(cur);
  return out;
}

/** A value that is wholly one quoted string loses its quotes (shell-like). */
function unquote(text: string): string {
  const q = text[0];
  if ((q === '"' || q === "'") && text.length >= 2 && text.endsWith(q)) {
    return text.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return text;
}

/** qmp-shell's _parse_value. */
export function parseValue(text: string): unknown {
  if (/^[+-]?\d+$/.test(text)) return Number(text);
  if (text.toLowerCase() === 'true') return true;
  if (text.toLowerCase() === 'false') return false;
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return unquote(text);
}

/** qmp-shell's _cli_expr: key=value tokens into `parent`, dotted keys nesting. */
export function addArguments(tokens: readonly string[], parent: Record<string, unknown>): void {
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq < 0) throw new ShellSyntaxError(`Expected a key=value pair, got '${token}'`);
    const key = token.slice(0, eq);
    const value = parseValue(token.slice(eq + 1));
    const path = key.split('.');
    let obj = parent;
    const cur: string[] = [];
    for (const part of path.slice(0, -1)) {
      cur.push(part);
      const next = obj[part] ?? {};
      if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        throw new ShellSyntaxError(`Cannot use "${cur.join('.')}" as both leaf and non-leaf key`);
      }
      obj[part] = next;
      obj = next as Record<string, unknown>;
    }
    const leaf = path[path.length - 1]!;
    if (leaf in obj) {
      if (typeof obj[leaf] === 'object' && obj[leaf] !== null) {
        throw new ShellSyntaxError(`Cannot use "${key}" as both leaf and non-leaf key`);
      }
      throw new ShellSyntaxError(`Cannot set "${key}" multiple times`);
    }
    obj[leaf] = value;
  }
}

export interface ParserOptions {
  hmp?: boolean;
}

/** Keeps the transaction state between lines; one parser per shell. */
export class CommandLineParser {
  private actions: Array<{ type: string; data: Record<string, unknown> }> | null = null;
  cpuIndex = 0;

  constructor(private readonly opts: ParserOptions = {}) {}

  get inTransaction(): boolean {
    return this.actions !== null;
  }

  /** The request to send for `line`, or null when there is nothing to send yet. */
  parse(line: string): QmpRequest | null {
    if (this.opts.hmp) return this.hmp(line);
    const trimmed = line.trim();
    if (trimmed === '') return null;
    if (trimmed.startsWith('{') && !this.actions) {
      try {
        return JSON.parse(trimmed) as QmpRequest;
      } catch (err) {
        throw new ShellSyntaxError(`invalid JSON: ${(err as Error).message}`);
      }
    }
    const argv = splitCommandLine(trimmed);
    if (argv[0] === 'transaction(') {
      this.actions = [];
      argv.shift();
    }
    if (this.actions) return this.transactionLine(argv);
    const request: QmpRequest = { execute: argv[0]!, arguments: {} };
    addArguments(argv.slice(1), request['arguments'] as Record<string, unknown>);
    return request;
  }

  private transactionLine(argv: string[]): QmpRequest | null {
    let finish = false;
    if (argv.length > 0 && argv[argv.length - 1] === ')') {
      argv.pop();
      finish = true;
    }
    if (argv.length > 0) {
      const data: Record<string, unknown> = {};
      addArguments(argv.slice(1), data);
      this.actions!.push({ type: argv[0]!, data });
    }
    if (!finish) return null;
    const actions = this.actions!;
    this.actions = null;
    return { execute: 'transaction', arguments: { actions } };
  }

  /** qmp-shell -H: `cpu N` switches the CPU index, everything else goes to the monitor. */
  private hmp(line: string): QmpRequest | null {
    const trimmed = line.trim();
    if (trimmed === '') return null;
    const m = /^cpu\s+(\d+)$/.exec(trimmed);
    if (m) {
      this.cpuIndex = Number(m[1]);
      return null;
    }
    return { execute: 'human-monitor-command', arguments: { 'command-line': trimmed, 'cpu-index': this.cpuIndex } };
  }
}
