/*
 * Loads the QEMU 10 QMP oracle (test/data/qemu10-qmp-oracle.json: QEMU 10.0.2's replies,
 * recorded probe by probe) and turns each step's request back into the exact bytes that were sent.
 *
 * Most requests are stored verbatim.  Binary ones are Python bytes reprs
 * (b'...'); huge ones are summarised as {len, head, tail}, and are rebuilt here
 * from the probe's known shape, then checked against len, head and tail so a
 * wrong guess fails loudly instead of testing something else.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface OracleResponse {
  raw?: string;
  json?: unknown;
  json_error?: string;
  json_summary?: unknown;
  raw_len?: number;
  raw_head?: string;
  raw_tail?: string;
}

export type OracleRequest = string | { bytes_repr: string } | { len: number; head: string; tail: string } | null;

export interface OracleStep {
  request?: OracleRequest;
  chunks?: string[];
  eof?: boolean;
  note?: string;
  responses?: OracleResponse[];
  response_count?: number;
  responses_first_12?: OracleResponse[];
  distinct_raw_top20?: Array<{ count: number; raw: string }>;
}

export interface OracleProbe {
  name: string;
  session: string;
  description: string;
  steps: OracleStep[];
  greeting?: OracleResponse[];
}

export interface Oracle {
  meta: unknown;
  probes: OracleProbe[];
  derived: Record<string, unknown>;
}

/** The recorded session, beside the sources (this file runs from dist/test/helpers/). */
export const ORACLE_FILE = fileURLToPath(new URL('../../../test/data/qemu10-qmp-oracle.json', import.meta.url));

let cached: Oracle | Error | undefined;

/** The oracle; throws, saying which file and why, when it cannot be read. */
export function loadOracle(): Oracle {
  if (cached === undefined) {
    try {
      cached = JSON.parse(readFileSync(ORACLE_FILE, 'utf8')) as Oracle;
    } catch (err) {
      cached = new Error(`cannot load QEMU 10's recorded QMP session from ${ORACLE_FILE}: ${(err as Error).message}`);
    }
  }
  if (cached instanceof Error) throw cached;
  return cached;
}

/**
 * For suites that make one test per probe: calls `define` with the oracle, or, when it cannot
 * be loaded, defines one test that fails with the reason, so the rest of the run goes on.
 */
export function withOracle(define: (oracle: Oracle) => void): void {
  let oracle: Oracle;
  try {
    oracle = loadOracle();
  } catch (err) {
    it('loads QEMU 10\'s recorded QMP session', () => { throw err; });
    return;
  }
  define(oracle);
}

export function probe(name: string): OracleProbe {
  const p = loadOracle().probes.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no oracle probe ${name}`);
  return p;
}

/** Every raw response line anywhere in the oracle (greetings, responses, samples). */
export function allRawLines(): string[] {
  const lines: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'raw' && typeof x === 'string') lines.push(x);
        else walk(x);
      }
    }
  };
  walk(loadOracle());
  return lines;
}

/** Parses a Python bytes literal such as b'{"id":"\xff"}'. */
export function pythonBytes(repr: string): Uint8Array {
  const m = /^b(['"])(.*)\1$/s.exec(repr);
  if (m === null) throw new Error(`not a bytes repr: ${repr}`);
  const body = m[2];
  const out: number[] = [];
  const simple: Record<string, number> = { '\\': 0x5c, "'": 0x27, '"': 0x22, n: 0x0a, r: 0x0d, t: 0x09, '0': 0 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out.push(c.charCodeAt(0));
      continue;
    }
    const e = body[++i];
    if (e === 'x') {
      out.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e in simple) {
      out.push(simple[e]);
    } else {
      throw new Error(`unsupported escape \\${e} in ${repr}`);
    }
  }
  return Uint8Array.from(out);
}

const utf8 = new TextEncoder();

/** Rebuilds a summarised request from what the probe is known to have sent. */
function rebuild(probeName: string, req: { len: number; head: string; tail: string }): string {
  const candidates: string[] = [];
  const pad = (unit: string, prefix: string, suffix: string, last = ''): string => {
    const room = req.len - prefix.length - suffix.length - last.length;
    return prefix + unit.repeat(Math.max(0, Math.floor(room / unit.length))) + last + suffix;
  };
  const nest = /nesting_arrays_(\d+)_levels_(in_arguments|top_level)/.exec(probeName);
  if (nest !== null) {
    const n = Number(nest[1]);
    const brackets = '['.repeat(n) + ']'.repeat(n);
    candidates.push(
      nest[2] === 'top_level' ? brackets : `{"execute":"query-version","arguments":{"pad":${brackets}},"id":"nest"}`,
    );
  }
  if (probeName.startsWith('pipelined_')) {
    candidates.push(Array.from({ length: 20 }, (_, i) => `{"execute": "query-status", "id": ${i}}`).join(''));
  }
  if (probeName.startsWith('large_')) {
    const head = req.head.replace(/x+$/, '');
    const tail = req.tail.replace(/^x+/, '');
    candidates.push(pad('x', head, tail));
  }
  if (probeName === 'token_count_over_2M') {
    const head = req.head.slice(0, req.head.indexOf('['));
    const tail = req.tail.slice(req.tail.indexOf(']'));
    candidates.push(pad('0,', head + '[', tail, '0'));
  }
  for (const c of candidates) {
    if (c.length === req.len && c.startsWith(req.head) && c.endsWith(req.tail)) return c;
  }
  throw new Error(`cannot rebuild the request of ${probeName}`);
}

/** The writes of one step, as bytes, in order. */
export function stepWrites(probeName: string, step: OracleStep): Uint8Array[] {
  if (step.chunks !== undefined) return step.chunks.map((c) => utf8.encode(c));
  const req = step.request;
  if (req === undefined || req === null) return [];
  if (typeof req === 'string') return [utf8.encode(req)];
  if ('bytes_repr' in req) return [pythonBytes(req.bytes_repr)];
  return [utf8.encode(rebuild(probeName, req))];
}
