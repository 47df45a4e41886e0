// Fuzzing the QMP server over its real socket, in a vifd process of its own (so a crash is a
// dead process and memory is its RSS). Seeded, so a failure replays.
//
// - 75,000 well-formed messages generated from schema/: every command with arguments right and
//   wrong (missing members, unknown ones, wrong types, out-of-range and float integers, nested
//   junk), odd ids and envelopes, spelled in every way QEMU's parser accepts. Each gets exactly
//   one reply, in order, with its id echoed.
// - 30,000 mutations of the oracle's requests (bytes flipped, dropped, inserted, duplicated,
//   truncated, spliced). A mutated stream has no fixed message count, so each is followed by a
//   0xFF byte, which resynchronises the lexer: each gets one or more replies or errors, and a
//   sentinel request after each batch is answered, so the stream is still in step.
// - The server stays up, its memory stays bounded, and after a 65 MiB string is refused the
//   very next request is answered.

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JsonFloat, setMember, type JsonObject, type JsonValue } from '../../src/qmp/json-value.js';
import { schemas, type JsonSchema } from '../../src/schema/registry.js';
import { mulberry32, randomValue, serialise, type Rand } from '../helpers/json-random.js';
import { loadOracle, stepWrites } from '../helpers/oracle.js';
import { RawLineClient } from '../helpers/raw-line-client.js';

const GENERATED = 75_000;
const MUTATED = 30_000;
const BATCH = 500;

/** Commands whose success changes the world (devices, taps, the process): sent with bad arguments only. */
const UNSAFE = new Set(['quit', 'device_add', 'netdev_add', 'human-monitor-command', '__com.vifd_xenstore-write',
  '__com.vifd_xenstore-watch']);
/** Oracle requests that must not be replayed mutated, for the same reason. */
const UNSAFE_SEED = /quit|device_add|netdev_add|human-monitor|xenstore-write|xenstore-watch|"stop"|"cont"|system_/;

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const STRINGS = ['', 'x', 'nic0', '/machine', '/machine/peripheral', 'peripheral', '/', 'xen-net-device', 'oob',
  '/local/domain/1', 'é😀', "it's", 'a\u0000b', '../..', 'type'];
const INTEGERS: JsonValue[] = [0, 1, -1, 7, 255, 65535, 65536, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1,
  2n ** 63n, 2n ** 64n, new JsonFloat(1), new JsonFloat(1.5), new JsonFloat(1e300)];

/** A value for `s`, right most of the time and wrong in QEMU-relevant ways otherwise. */
function generate(s: JsonSchema, rand: Rand, depth: number): JsonValue {
  if (rand() < 0.08) return randomValue(rand, 2, true);
  if (Array.isArray(s.enum) && rand() < 0.8) return pick(rand, s.enum) as JsonValue;
  switch (Array.isArray(s.type) ? s.type[0] : s.type) {
    case 'string': return pick(rand, STRINGS);
    case 'integer':
      if (rand() < 0.5 && typeof s.minimum === 'number' && typeof s.maximum === 'number') {
        return s.minimum + Math.floor(rand() * Math.min(s.maximum - s.minimum + 1, 5000));
      }
      return pick(rand, INTEGERS);
    case 'number': return pick(rand, [0, 1.5, -2, new JsonFloat(0.25)]);
    case 'boolean': return rand() < 0.5;
    case 'array': {
      const out: JsonValue[] = [];
      for (let n = Math.floor(rand() * 3); n > 0 && depth > 0; n--) out.push(generate(s.items ?? {}, rand, depth - 1));
      return out;
    }
    case 'object': {
      const obj: JsonObject = {};
      const required = new Set(s.required ?? []);
      for (const [k, sub] of Object.entries(s.properties ?? {})) {
        if (required.has(k) ? rand() < 0.95 : rand() < 0.5) setMember(obj, k, generate(sub, rand, depth - 1));
      }
      if (rand() < 0.1) setMember(obj, pick(rand, ['foo', '__proto__', 'constructor', 'toString', 'x-fuzz']), 1);
      return obj;
    }
    default: return randomValue(rand, 2, true);
  }
}

interface Message { value: JsonObject; id: string | null }

function generateMessage(rand: Rand, n: number): Message {
  const commands = schemas().list('command');
  const msg: JsonObject = {};
  const entry = pick(rand, commands);
  const r = rand();
  let id: string | null = `f${n}`;
  const idValue: JsonValue = r < 0.85 ? id : randomValue(rand, 2, true);
  if (r >= 0.85) id = null;
  const withId = rand() < 0.95;
  if (!withId) id = null;
  if (withId && rand() < 0.3) setMember(msg, 'id', idValue);
  const execKey = rand() < 0.05 ? 'exec-oob' : 'execute';
  const roll = rand();
  setMember(msg, execKey, roll < 0.03 ? randomValue(rand, 1, true) : roll < 0.08 ? pick(rand, ['no-such', 'QUERY-STATUS', '', 'qom_list'])
    : entry.name);
  if (UNSAFE.has(entry.name)) {
    setMember(msg, 'arguments', pick(rand, [[], 'x', 1, null, true] as JsonValue[]));
  } else if (rand() < 0.9) {
    setMember(msg, 'arguments', rand() < 0.03 ? randomValue(rand, 2, true) : generate(entry.schema, rand, 3));
  }
  if (withId && !Object.hasOwn(msg, 'id')) setMember(msg, 'id', idValue);
  if (rand() < 0.02) setMember(msg, pick(rand, ['control', 'extra', 'Execute']), 1);
  return { value: msg, id };
}

/** One byte-level mutation of a request. */
function mutate(seed: Uint8Array, rand: Rand): Uint8Array {
  const b = Array.from(seed);
  for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0: if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(rand() * 256); break;
      case 1: b.splice(at, 1 + Math.floor(rand() * 4)); break;
      case 2: b.splice(at, 0, pick(rand, [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x27, 0x5c, 0x3a, 0x2c, 0x00, 0x0a, 0x80, 0x25])); break;
      case 3: { const from = Math.floor(rand() * b.length); b.splice(at, 0, ...b.slice(from, from + 8)); break; }
      case 4: b.length = Math.min(b.length, at); break;
      default: b.splice(at, 0, ...Array.from(Buffer.from(pick(rand, ['{"a":', '"x"', '1e400', '-0', '[[', ']]', '\\u00', 'true'])))); break;
    }
  }
  return Uint8Array.from(b);
}

/** True for anything the server may say: a reply, an error or an event, one CRLF-terminated line. */
function isQmpLine(line: string): boolean {
  return /^\{"(return|id|error|timestamp)": .*\}\r\n$/.test(line);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('QMP fuzzing over the socket of a vifd process', function () {
  this.timeout(180000);
  let dir: string;
  let child: ChildProcess;
  let qmpPath: string;
  let exited = false;
  let stderr = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-fuzz-'));
    qmpPath = join(dir, 'qmp.sock');
    child = spawn(process.execPath, [resolve(process.cwd(), 'bin/vifd.js'), '-qmp', `unix:${qmpPath},server=on,wait=off`],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('exit', () => { exited = true; });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const deadline = Date.now() + 15000;
    while (!out.includes('is running')) {
      if (exited || Date.now() > deadline) throw new Error(`vifd did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  after(async () => {
    if (!exited) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function session(kind: 'raw' | 'neg' | 'oob'): Promise<RawLineClient> {
    const c = await RawLineClient.connect(qmpPath);
    await c.line();
    if (kind !== 'raw') {
      await c.write(kind === 'oob' ? '{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}' : '{"execute":"qmp_capabilities"}');
      expect(await c.line()).to.equal('{"return": {}}\r\n');
    }
    return c;
  }

  /** The next line that is not an event. */
  async function reply(c: RawLineClient): Promise<string> {
    for (;;) {
      const line = await c.line(20000);
      if (!line.startsWith('{"timestamp"')) return line;
    }
  }

  it(`answers each of ${GENERATED.toLocaleString('en')} schema-generated messages exactly once, in order, id echoed`, async () => {
    const rand = mulberry32(0x5eed);
    const clients = [await session('raw'), await session('neg'), await session('oob')];
    let rssWarm = 0;
    const outcomes = { returns: 0, errors: 0 };
    for (let sent = 0; sent < GENERATED; sent += BATCH) {
      const c = clients[(sent / BATCH) % clients.length]!;
      const batch: Message[] = [];
      for (let k = 0; k < BATCH; k++) batch.push(generateMessage(rand, sent + k));
      await c.write(batch.map((m) => serialise(m.value, rand) + pick(rand, ['', '', '\n', '\r\n', ' '])).join(''));
      for (const m of batch) {
        const line = await reply(c);
        expect(isQmpLine(line), line).to.equal(true);
        // Every refusal is one of the catalogue's own texts, never the generic fallback.
        expect(line, serialise(m.value, mulberry32(1))).to.not.match(/"desc": "Invalid arguments:/);
        if (line.startsWith('{"return"')) outcomes.returns++;
        else outcomes.errors++;
        if (m.id !== null) {
          const echoed = line.startsWith(`{"id": "${m.id}", "error"`) || line.endsWith(`, "id": "${m.id}"}\r\n`);
          expect(echoed, `reply to ${serialise(m.value, mulberry32(1))}: ${line}`).to.equal(true);
        }
      }
      expect(await c.drain(0)).to.deep.equal([]);
      if (sent === 10 * BATCH) rssWarm = rssKiB(child.pid!);
    }
    expect(exited).to.equal(false);
    expect(stderr, 'no command failed unexpectedly').to.not.match(/failed unexpectedly/);
    // Both sides of the schema are exercised, not just refusals.
    expect(outcomes.returns, JSON.stringify(outcomes)).to.be.above(GENERATED / 10);
    expect(outcomes.errors, JSON.stringify(outcomes)).to.be.above(GENERATED / 10);
    const grown = rssKiB(child.pid!) - rssWarm;
    expect(grown, `RSS grew by ${grown} KiB`).to.be.below(64 * 1024);
    for (const c of clients) c.destroy();
  });

  it(`answers each of ${MUTATED.toLocaleString('en')} mutated oracle requests and stays in step`, async () => {
    const rand = mulberry32(0xf00d);
    const seeds: Uint8Array[] = [];
    for (const p of loadOracle().probes) {
      for (const step of p.steps) {
        for (const w of stepWrites(p.name, step)) {
          if (w.length < 5000 && !UNSAFE_SEED.test(Buffer.from(w).toString('latin1'))) seeds.push(w);
        }
      }
    }
    expect(seeds.length).to.be.above(150);
    const c = await session('neg');
    for (let sent = 0, batchNo = 0; sent < MUTATED; sent += BATCH, batchNo++) {
      const parts: Uint8Array[] = [];
      for (let k = 0; k < BATCH; k++) {
        const seed = rand() < 0.1 ? Buffer.concat([pick(rand, seeds), pick(rand, seeds)]) : pick(rand, seeds);
        parts.push(mutate(seed, rand), Uint8Array.of(0xff));
      }
      parts.push(Buffer.from(`{"execute":"query-status","id":"sentinel-${batchNo}"}`));
      await c.write(Buffer.concat(parts));
      let lines = 0;
      for (;;) {
        const line = await c.line(20000);
        expect(isQmpLine(line), line).to.equal(true);
        if (line === `{"return": {"status": "running", "running": true}, "id": "sentinel-${batchNo}"}\r\n`) break;
        lines++;
      }
      expect(lines, 'at least one reply or error per mutated request').to.be.at.least(BATCH);
    }
    expect(exited).to.equal(false);
    c.destroy();
  });

  it('refuses a 65 MiB string, answers the very next request, and gives the memory back', async () => {
    const c = await session('neg');
    const before = rssKiB(child.pid!);
    await c.write('{"execute":"query-version","arguments":{"pad":"');
    const chunk = Buffer.alloc(1024 * 1024, 0x78);
    for (let i = 0; i < 65; i++) await c.write(chunk);
    await c.write('"},"id":"huge"}{"execute":"query-status","id":"next"}');
    expect(await c.line(60000)).to.equal('{"error": {"class": "GenericError", "desc": "JSON token size limit exceeded"}}\r\n');
    expect(await c.line(60000)).to.equal('{"return": {"status": "running", "running": true}, "id": "next"}\r\n');
    const peak = rssKiB(child.pid!);
    // The refused token is never held whole (64 MiB cap) and nothing of it is kept afterwards.
    expect(peak - before, `RSS grew by ${peak - before} KiB`).to.be.below(160 * 1024);
    expect(exited).to.equal(false);
    c.destroy();
  });
});
