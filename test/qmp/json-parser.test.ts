import { expect } from 'chai';
import {
  JsonFloat,
  JsonStreamParser,
  KEY_ORDER,
  parseJsonDocument,
  type JsonParseResult,
  type JsonValue,
  type Limits,
} from '../../src/qmp/json-parser.js';
import { formatJson } from '../../src/qmp/json-writer.js';
import { probe, stepWrites, withOracle, type OracleResponse } from '../helpers/oracle.js';
import { canonical, joinMessages, mulberry32, randomValue } from '../helpers/json-random.js';

const utf8 = new TextEncoder();
const bytes = (s: string): Uint8Array => utf8.encode(s);

/** One outcome per emitted message, as a comparable line. */
function outcome(r: JsonParseResult): string {
  return 'value' in r ? `value ${formatJson(r.value)}` : `error ${r.error.desc}`;
}

function run(chunks: Uint8Array[], limits?: Partial<Limits>): string[] {
  const out: string[] = [];
  const p = new JsonStreamParser((r) => out.push(outcome(r)), limits);
  for (const c of chunks) p.push(c);
  return out;
}

function values(input: string | Uint8Array): JsonParseResult[] {
  const out: JsonParseResult[] = [];
  const p = new JsonStreamParser((r) => out.push(r));
  p.push(typeof input === 'string' ? bytes(input) : input);
  return out;
}

function only(input: string | Uint8Array): JsonParseResult {
  const r = values(input);
  expect(r).to.have.length(1);
  return r[0];
}

function errorOf(input: string | Uint8Array): string {
  const r = only(input);
  if (!('error' in r)) throw new Error(`expected an error, got ${outcome(r)}`);
  return r.error.desc;
}

function valueOf(input: string | Uint8Array): JsonValue {
  const r = only(input);
  if (!('value' in r)) throw new Error(`expected a value, got ${r.error.desc}`);
  return r.value;
}

const bytewise = (b: Uint8Array): Uint8Array[] => Array.from(b, (x) => Uint8Array.of(x));

/* ------------------------------------------------------------ oracle -- */

/** What the parser must have produced for one of QEMU's replies (null: not a reply to input). */
type Expected = { kind: 'error'; desc: string } | { kind: 'non-object' } | { kind: 'object'; id?: unknown } | null;

function expectedFor(resp: OracleResponse): Expected {
  const json = resp.json as Record<string, unknown> | undefined;
  if (json === undefined) return { kind: 'object' }; // unparseable (inf) or summarised: a request was read
  if ('event' in json) return null;
  const err = json.error as { desc: string } | undefined;
  if (err !== undefined && !('id' in json)) {
    if (err.desc.startsWith('JSON ')) return { kind: 'error', desc: err.desc };
    if (err.desc === 'QMP input must be a JSON object') return { kind: 'non-object' };
  }
  return 'id' in json ? { kind: 'object', id: json.id } : { kind: 'object' };
}

/** A parsed value as plain JSON, to compare with the oracle's Python-decoded ids. */
function plain(v: JsonValue): unknown {
  if (v instanceof JsonFloat) return v.value;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function matches(r: JsonParseResult, e: NonNullable<Expected>): boolean {
  if (e.kind === 'error') return 'error' in r && r.error.desc === e.desc;
  if (!('value' in r)) return false;
  const isObject = typeof r.value === 'object' && r.value !== null && !Array.isArray(r.value) && !(r.value instanceof JsonFloat);
  if (e.kind === 'non-object') return !isObject;
  if (!isObject) return false;
  if (e.id === undefined) return true;
  try {
    expect(plain((r.value as Record<string, JsonValue>).id)).to.deep.equal(e.id);
    return true;
  } catch {
    return false;
  }
}

/** Probes where we deliberately recover better than QEMU: one error per refused message. */
const LIMIT_PROBES = new Set([
  'large_65MB_string_over_token_limit',
  'token_count_over_2M',
  'nesting_arrays_1023_levels_in_arguments',
  'nesting_arrays_1024_levels_in_arguments',
  'nesting_arrays_1025_levels_in_arguments',
  'nesting_arrays_2000_levels_in_arguments',
  'nesting_arrays_2000_levels_top_level',
  'nesting_arrays_1025_levels_top_level',
]);

/** Replays a probe on one parser, as the probe ran on one connection; returns per-step results. */
function replay(name: string, split: (b: Uint8Array) => Uint8Array[]): JsonParseResult[][] {
  const p = probe(name);
  const perStep: JsonParseResult[][] = [];
  let current: JsonParseResult[] = [];
  const parser = new JsonStreamParser((r) => current.push(r));
  for (const step of p.steps) {
    current = [];
    for (const w of stepWrites(name, step)) for (const c of split(w)) parser.push(c);
    if (step.eof === true) parser.end();
    perStep.push(current);
  }
  return perStep;
}

function checkAgainstOracle(name: string, split: (b: Uint8Array) => Uint8Array[]): void {
  const steps = probe(name).steps;
  const got = replay(name, split);
  steps.forEach((step, s) => {
    const where = `${name} step ${s}`;
    if (LIMIT_PROBES.has(name) && step.note === undefined) {
      const first = expectedFor((step.responses ?? step.responses_first_12 ?? [])[0]);
      expect(got[s].map(outcome), where).to.deep.equal([`error ${(first as { desc: string }).desc}`]);
      return;
    }
    const expected = (step.responses ?? []).map(expectedFor).filter((e): e is NonNullable<Expected> => e !== null);
    expect(got[s].length, `${where}: ${got[s].map(outcome).join(' | ').slice(0, 300)}`).to.equal(expected.length);
    expected.forEach((e, k) => expect(matches(got[s][k], e), `${where} reply ${k}: ${outcome(got[s][k]).slice(0, 200)}`).to.equal(true));
  });
}

describe('JSON stream parser', () => {
  describe('against every request QEMU 10 answered in the oracle', () => {
    const whole = (b: Uint8Array): Uint8Array[] => [b];
    withOracle(({ probes }) => {
      for (const p of probes) {
        if (p.name === 'large_65MB_string_over_token_limit') continue; // streamed in chunks below
        it(`delimits and reads ${p.name} as QEMU does`, () => checkAgainstOracle(p.name, whole));
      }
      for (const p of probes) {
        const small = p.steps.every((s) => stepWrites(p.name, s).every((w) => w.length < 5000));
        if (!small) continue;
        it(`reads ${p.name} the same when every byte arrives alone`, () => checkAgainstOracle(p.name, bytewise));
      }
    });
  });

  describe('QEMU error texts and reply counts', () => {
    it('answers a stray percent with two errors, as QEMU does', () => {
      expect(run([bytes('{"execute":%s}')])).to.deep.equal([
        "error JSON parse error, stray '%'",
        'error JSON parse error, expecting value',
      ]);
    });

    it('answers an extra closing brace with the value and then an error', () => {
      expect(run([bytes('{"id":"x"}}')])).to.deep.equal(['value {"id": "x"}', 'error JSON parse error, expecting value']);
    });

    it('holds a bare number or keyword until the next byte shows where it ends', () => {
      const out: string[] = [];
      const p = new JsonStreamParser((r) => out.push(outcome(r)));
      p.push(bytes('42'));
      expect(out).to.deep.equal([]);
      p.push(bytes(' hello'));
      expect(out).to.deep.equal(['value 42']);
      p.push(bytes('{"a":1}'));
      expect(out).to.deep.equal(['value 42', "error JSON parse error, invalid keyword 'hello'", 'value {"a": 1}']);
    });

    it('reports a string at top level as soon as its closing quote arrives', () => {
      expect(run([bytes('"query-version"')])).to.deep.equal(['value "query-version"']);
    });

    it('quotes the swallowed bytes of a lexical error, invalid UTF-8 as U+FFFD', () => {
      expect(errorOf(Uint8Array.of(0xff))).to.equal("JSON parse error, stray '\uFFFD'");
      expect(errorOf(Uint8Array.of(0xfe))).to.equal("JSON parse error, stray '\uFFFD'");
      expect(errorOf(bytes('\x01'))).to.equal("JSON parse error, stray '\u0001'");
      expect(errorOf(Uint8Array.of(0))).to.equal("JSON parse error, stray ''");
      expect(errorOf(Uint8Array.of(0x22, 0x61, 0x62, 0x00))).to.equal('JSON parse error, stray \'"ab\'');
      expect(run([bytes('{"a":1.}')])).to.deep.equal(["error JSON parse error, stray '1.}'"]);
      expect(run([bytes('[-x]')])).to.deep.equal(["error JSON parse error, stray '-x'", 'error JSON parse error, expecting value']);
      expect(run([bytes('{"id":01}')])).to.deep.equal(["error JSON parse error, stray '01'", 'error JSON parse error, expecting value']);
      expect(run([bytes('"a\nb"}')])).to.deep.equal(['error JSON parse error, stray \'"a\n\'', 'error JSON parse error, expecting value']);
      expect(run([bytes('TRUE ')])).to.deep.equal(["error JSON parse error, stray 'T'"]);
    });

    it('reports grammar errors with QEMU\'s words, the first error winning', () => {
      const cases: Array<[string, string]> = [
        ['{"execute": }', 'expecting value'],
        ['{"execute":"x",}', 'expecting value'],
        ['[1,]', 'expecting value'],
        [']', 'expecting value'],
        ['{]', 'expecting value'],
        ['[}', 'expecting value'],
        ['{foo}', "invalid keyword 'foo'"],
        ['[tru]', "invalid keyword 'tru'"],
        ['[1 2]', 'expected separator in list'],
        ['{"a" 1}', 'missing : in object pair'],
        ['{1:2}', 'key is not a string in object'],
        ['{"a":1 "b":2}', 'expected separator in dict'],
        ['{"a":1,"a":2}', 'duplicate key'],
        ['{"a":{"b":1,"b":2}}', 'duplicate key'],
        ['{"a":1,"a":"\\q"}', 'invalid escape sequence in string'],
        ['{"\\q":1 2}', 'invalid escape sequence in string'],
        ['["\\ud800"]', '\\ud800 is not a valid Unicode character'],
        ['["\\ud800\\u0041"]', '\\ud800 is not a valid Unicode character'],
        ['["\\udc00"]', '\\udc00 is not a valid Unicode character'],
        ['["\\uffff"]', '\\uffff is not a valid Unicode character'],
        ['["\\ufdd0"]', '\\ufdd0 is not a valid Unicode character'],
        ['["\\u12"]', '\\u12" is not a valid Unicode character'],
        ['["\\uzzzz"]', '\\uzzzz is not a valid Unicode character'],
      ];
      for (const [input, msg] of cases) expect(errorOf(input), input).to.equal(`JSON parse error, ${msg}`);
    });

    it('cuts grammar errors after 1023 bytes, as parse_error()\'s buffer does', () => {
      const desc = errorOf(`{"a":${'x'.repeat(2000)}}`);
      expect(desc).to.equal(`JSON parse error, invalid keyword '${'x'.repeat(1023 - "invalid keyword '".length)}`);
      expect(errorOf(`[${'x'.repeat(1005)}]`)).to.equal(`JSON parse error, invalid keyword '${'x'.repeat(1005)}'`);
      // "stray" comes from error_setg(), which has no such limit.
      expect(errorOf(`"${'y'.repeat(2000)}\x01`)).to.equal(`JSON parse error, stray '"${'y'.repeat(2000)}\x01'`);
    });

    it('rejects invalid UTF-8 inside strings, and accepts "\\xC0\\x80" as U+0000', () => {
      const str = (...b: number[]): Uint8Array => Uint8Array.of(0x5b, 0x22, ...b, 0x22, 0x5d);
      const invalid = 'JSON parse error, invalid UTF-8 sequence in string';
      expect(errorOf(str(0xed, 0xa0, 0x80))).to.equal(invalid); // a surrogate
      expect(errorOf(str(0xef, 0xbf, 0xbe))).to.equal(invalid); // U+FFFE
      expect(errorOf(str(0xc1, 0x81))).to.equal(invalid); // overlong
      expect(errorOf(str(0x80))).to.equal(invalid); // lone continuation byte
      expect(errorOf(str(0xc3))).to.equal(invalid); // truncated sequence
      expect(errorOf(str(0xf4, 0x90, 0x80, 0x80))).to.equal(invalid); // beyond U+10FFFF
      expect(valueOf(str(0xc0, 0x80))).to.deep.equal(['\u0000']);
      expect(valueOf(str(0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80))).to.deep.equal(['é😀']);
    });
  });

  describe('values', () => {
    it('reads single-quoted strings and every escape QEMU knows', () => {
      expect(valueOf(`{'a':'it\\'s', "b":"\\"\\\\\\/\\b\\f\\n\\r\\t\\'", 'c':'"'}`)).to.deep.equal({
        a: "it's",
        b: '"\\/\b\f\n\r\t\'',
        c: '"',
      });
      expect(valueOf('["\\u00e9\\ud83d\\ude00\\u0000"]')).to.deep.equal(['é😀\u0000']);
    });

    it('keeps integers as integers and floats as JsonFloat, as QNum does', () => {
      const v = valueOf('[0,-0,1,-1.5,1.0,1e3,9007199254740991,9007199254740993,-9223372036854775808,' +
        '-9223372036854775809,18446744073709551615,18446744073709551616,1e400]') as JsonValue[];
      expect(v[0]).to.equal(0);
      expect(Object.is(v[1], 0)).to.equal(true); // the int64 zero, not -0
      expect(v[2]).to.equal(1);
      expect(v[3]).to.deep.equal(new JsonFloat(-1.5));
      expect(v[4]).to.deep.equal(new JsonFloat(1));
      expect(v[5]).to.deep.equal(new JsonFloat(1000));
      expect(v[6]).to.equal(9007199254740991);
      expect(v[7]).to.equal(9007199254740993n);
      expect(v[8]).to.equal(-9223372036854775808n);
      expect(v[9]).to.deep.equal(new JsonFloat(-9223372036854775808));
      expect(v[10]).to.equal(18446744073709551615n);
      expect(v[11]).to.deep.equal(new JsonFloat(18446744073709551616));
      expect(v[12]).to.deep.equal(new JsonFloat(Infinity));
    });

    it('creates a "__proto__" member instead of changing the prototype', () => {
      const v = valueOf('{"__proto__":{"x":1},"a":2}') as Record<string, JsonValue>;
      expect(Object.getPrototypeOf(v)).to.equal(Object.prototype);
      expect(Object.keys(v)).to.deep.equal(['__proto__', 'a']);
      const slow = valueOf('{"__proto__":{"x":1.5},"a":2}') as Record<string, JsonValue>;
      expect(Object.keys(slow)).to.deep.equal(['__proto__', 'a']);
    });

    it('remembers insertion order when JS would move integer-like keys first', () => {
      const v = valueOf('{"b":1,"10":2,"a":3,"2":4}') as Record<string | symbol, unknown>;
      expect(Object.keys(v)).to.deep.equal(['2', '10', 'b', 'a']);
      expect(v[KEY_ORDER]).to.deep.equal(['b', '10', 'a', '2']);
    });

    it('parses a complete document as qobject_from_json does', () => {
      expect(parseJsonDocument('42')).to.deep.equal({ value: 42 });
      expect(parseJsonDocument(' ')).to.deep.equal({ error: { code: 'json-parse', desc: 'Expecting a JSON value' } });
      expect(parseJsonDocument('1 2')).to.deep.equal({ error: { code: 'json-parse', desc: 'Expecting at most one JSON value' } });
      expect(parseJsonDocument('{"a":1')).to.deep.equal({ error: { code: 'json-parse', desc: 'JSON parse error, premature EOI' } });
      expect(parseJsonDocument('"abc')).to.deep.equal({ error: { code: 'json-parse', desc: 'JSON parse error, stray \'"abc\'' } });
    });
  });

  describe('framing', () => {
    const stream = '{"execute":"query-version","id":1}{"execute": } [1]42 "s" {"a":[1,{"b":null}]}\r\n' +
      "{'x':'y'}%{\"id\":\"\\u00e9\"}\x01{\"a\":1.5,\"b\":-0}hello[\"\u00e9\"]{}";

    it('reads several messages from one write', () => {
      expect(run([bytes(stream)])).to.deep.equal([
        'value {"execute": "query-version", "id": 1}',
        'error JSON parse error, expecting value',
        'value [1]',
        'value 42',
        'value "s"',
        'value {"a": [1, {"b": null}]}',
        'value {"x": "y"}',
        "error JSON parse error, stray '%'",
        'value {"id": "\\u00E9"}',
        "error JSON parse error, stray '\u0001'",
        'value {"a": 1.5, "b": 0}',
        "error JSON parse error, invalid keyword 'hello'",
        'value ["\\u00E9"]',
        'value {}',
      ]);
    });

    it('reads the same whatever byte position the input is split at', () => {
      const b = bytes(stream);
      const expected = run([b]);
      for (let cut = 0; cut <= b.length; cut++) {
        expect(run([b.subarray(0, cut), b.subarray(cut)]), `cut at ${cut}`).to.deep.equal(expected);
      }
      expect(run(bytewise(b))).to.deep.equal(expected);
    });

    it('drops a partial message at end of input, and starts afresh', () => {
      const out: string[] = [];
      const p = new JsonStreamParser((r) => out.push(outcome(r)));
      p.push(bytes('{"execute":"query-version","id":"partial"'));
      p.end();
      p.push(bytes('42'));
      p.end();
      p.push(bytes('"a'));
      p.end();
      expect(out).to.deep.equal([]);
      p.push(bytes('{"id":"fresh"}'));
      expect(out).to.deep.equal(['value {"id": "fresh"}']);
    });

    it('stops reading when the consumer ends the stream from inside a callback', () => {
      const out: string[] = [];
      const p = new JsonStreamParser((r) => {
        out.push(outcome(r));
        if (out.length === 1) p.end();
      });
      p.push(bytes('{"execute":"quit"}{"execute":"query-version"}[1,'));
      expect(out).to.deep.equal(['value {"execute": "quit"}']);
      p.push(bytes('{"a":2}'));
      expect(out).to.deep.equal(['value {"execute": "quit"}', 'value {"a": 2}']);
    });

    it('queues bytes pushed from inside a callback behind the current ones', () => {
      const out: string[] = [];
      const p = new JsonStreamParser((r) => {
        out.push(outcome(r));
        if (out.length === 1) p.push(bytes('[3]'));
      });
      p.push(bytes('[1][2]'));
      expect(out).to.deep.equal(['value [1]', 'value [2]', 'value [3]']);
    });
  });

  describe('limits, with clean recovery', () => {
    const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    const after = '{"execute":"query-version","id":"after"}';

    it('accepts 1024 open brackets and refuses 1025 with a single error', () => {
      expect(run([bytes(nested(1024))])).to.deep.equal([`value ${formatJson(JSON.parse(nested(1024)) as JsonValue)}`]);
      expect(run([bytes(nested(1025) + after)])).to.deep.equal([
        'error JSON nesting depth limit exceeded',
        'value {"execute": "query-version", "id": "after"}',
      ]);
      expect(run(bytewise(bytes(`{"a":${nested(1024)}}` + after)))).to.deep.equal([
        'error JSON nesting depth limit exceeded',
        'value {"execute": "query-version", "id": "after"}',
      ]);
    });

    it('counts tokens as QEMU does and skips the rest of a refused message', () => {
      const limits = { maxTokenCount: 7 };
      expect(run([bytes('[1,2,3]')], limits)).to.deep.equal(['value [1, 2, 3]']);
      expect(run([bytes('[1,2,3,4]' + '[5]')], limits)).to.deep.equal(['error JSON token count limit exceeded', 'value [5]']);
      expect(run(bytewise(bytes('{"a":[1,2,"}"]}[5]')), limits)).to.deep.equal(['error JSON token count limit exceeded', 'value [5]']);
    });

    it('counts token bytes plus one against the size limit', () => {
      // '{' '"ab"' ':' '1' '}' = 1 + 4 + 1 + 1 + 1 = 8 bytes; whitespace is free.
      expect(run([bytes('{ "ab" : 1 }')], { maxTokenSize: 9 })).to.deep.equal(['value {"ab": 1}']);
      expect(run([bytes('{ "ab" : 1 }[2]')], { maxTokenSize: 8 })).to.deep.equal(['error JSON token size limit exceeded', 'value [2]']);
      expect(run([bytes('"abcdefghij" [2]')], { maxTokenSize: 8 })).to.deep.equal(['error JSON token size limit exceeded', 'value [2]']);
      expect(run(bytewise(bytes('{"k":"a{b[c\\"d"}hello ')), { maxTokenSize: 8 })).to.deep.equal([
        'error JSON token size limit exceeded',
        "error JSON parse error, invalid keyword 'hello'",
      ]);
    });

    it('refuses 2M+ tokens once and then reads the next request', () => {
      const name = 'token_count_over_2M';
      const big = stepWrites(name, probe(name).steps[0])[0];
      expect(run([big, bytes(after)])).to.deep.equal([
        'error JSON token count limit exceeded',
        'value {"execute": "query-version", "id": "after"}',
      ]);
    });

    it('refuses a 65 MiB string once, in bounded memory, and then reads the next request', function () {
      this.timeout(20000);
      const out: string[] = [];
      const p = new JsonStreamParser((r) => out.push(outcome(r)));
      // The one buffer that grows with the input: the current token's bytes.
      const held = (): number => (p as unknown as { streamer: { lexer: { tok: Uint8Array } } }).streamer.lexer.tok.length;
      const chunk = new Uint8Array(64 * 1024).fill(0x78);
      let peak = 0;
      p.push(bytes('{"execute":"query-version","arguments":{"pad":"'));
      for (let sent = 0; sent < 65 * 1024 * 1024; sent += chunk.length) {
        p.push(chunk);
        peak = Math.max(peak, held());
      }
      p.push(bytes('"},"id":"huge"}' + after));
      expect(out).to.deep.equal(['error JSON token size limit exceeded', 'value {"execute": "query-version", "id": "after"}']);
      // Never more than what QEMU itself would hold (the 64 MiB limit) ...
      expect(peak).to.be.at.most(64 * 1024 * 1024 + 2);
      // ... and nothing of it once the message is refused.
      expect(held()).to.be.below(1024 * 1024);
    });

    it('reads a 10 MB string in well under a second, whole or in 64 KiB chunks', () => {
      const name = 'large_10MB_string_id_echo';
      const big = stepWrites(name, probe(name).steps[0])[0];
      for (const size of [big.length, 65536]) {
        const got: JsonParseResult[] = [];
        const p = new JsonStreamParser((r) => got.push(r));
        const t0 = performance.now();
        for (let i = 0; i < big.length; i += size) p.push(big.subarray(i, i + size));
        const ms = performance.now() - t0;
        expect(got).to.have.length(1);
        expect(((got[0] as { value: Record<string, string> }).value.id).length).to.equal(10 * 1024 * 1024);
        expect(ms, `${size}-byte chunks`).to.be.below(1000);
      }
    });
  });

  describe('properties', () => {
    it('reads back every random value it is given, one message each, however it is cut', () => {
      const rand = mulberry32(0x51f15e);
      for (let round = 0; round < 200; round++) {
        const vals = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => randomValue(rand, 4, true));
        const text = joinMessages(vals, rand);
        const input = bytes(text + ' ');
        const got = values(input);
        expect(got.map((r) => ('value' in r ? canonical(r.value) : r.error.desc)), text).to.deep.equal(vals.map((v) => canonical(v)));
        const cut = Math.floor(rand() * input.length);
        expect(run([input.subarray(0, cut), input.subarray(cut)]), text).to.deep.equal(got.map(outcome));
      }
    });

    it('never throws on mutated input, answers it the same however it is cut, and resynchronises on 0xFF', () => {
      const rand = mulberry32(0xbadc0de);
      const junk = [0x00, 0x01, 0x0a, 0x22, 0x27, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x25, 0x80, 0xc3, 0xfe, 0xff];
      const limits = [undefined, { maxTokenCount: 12, maxNesting: 3, maxTokenSize: 40 }];
      for (let round = 0; round < 400; round++) {
        const vals = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => randomValue(rand, 3, false));
        const b = Array.from(bytes(joinMessages(vals, rand)));
        for (let m = Math.floor(rand() * 4); m >= 0; m--) {
          const at = Math.floor(rand() * (b.length + 1));
          const x = rand() < 0.7 ? junk[Math.floor(rand() * junk.length)] : Math.floor(rand() * 256);
          if (rand() < 0.4) b.splice(at, 1, x);
          else if (rand() < 0.5) b.splice(at, 0, x);
          else b.splice(at, 1);
        }
        const input = Uint8Array.from([...b, 0xff, ...bytes('{"id":"sync"}')]);
        const lim = limits[round % 2];
        const whole = run([input], lim);
        expect(whole[whole.length - 1]).to.equal('value {"id": "sync"}');
        const cuts: Uint8Array[] = [];
        for (let i = 0; i < input.length; ) {
          const n = 1 + Math.floor(rand() * 8);
          cuts.push(input.subarray(i, i + n));
          i += n;
        }
        expect(run(cuts, lim)).to.deep.equal(whole);
        expect(run(bytewise(input), lim)).to.deep.equal(whole);
      }
    });
  });
});
