import { expect } from 'chai';
import { parseJsonDocument, type JsonParseResult } from '../../src/qmp/json-parser.js';
import { JsonFloat, KEY_ORDER, setMember, type JsonObject, type JsonValue } from '../../src/qmp/json-value.js';
import {
  formatDouble,
  formatJson,
  formatQmpLine,
  qdictBucket,
  qdictKeyOrder,
  qdictOrderOf,
  quoteString,
} from '../../src/qmp/json-writer.js';
import { allRawLines, probe, stepWrites, type OracleResponse } from '../helpers/oracle.js';
import { canonical, mulberry32, randomValue } from '../helpers/json-random.js';

function parsed(text: string): JsonValue {
  const r: JsonParseResult = parseJsonDocument(text);
  if (!('value' in r)) throw new Error(`${r.error.desc}: ${text.slice(0, 200)}`);
  return r.value;
}

/**
 * The same value with every object rebuilt in the order QEMU inserted its
 * members.  QEMU prints the most recently inserted key of a hash bucket first,
 * so inserting the printed keys in reverse reproduces its insertion order.
 */
function asQemuBuiltIt(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(asQemuBuiltIt);
  if (typeof v !== 'object' || v === null || v instanceof JsonFloat) return v;
  const printed = ((v as Record<symbol, string[] | undefined>)[KEY_ORDER] ?? Object.keys(v)).slice();
  const obj: JsonObject = {};
  const order = printed.reverse();
  for (const k of order) setMember(obj, k, asQemuBuiltIt(v[k]));
  Object.defineProperty(obj, KEY_ORDER, { value: order });
  return obj;
}

const TIMESTAMP = /<int>/g;

describe('JSON writer', () => {
  describe('against every line QEMU 10 wrote in the oracle', () => {
    it('prints each response, event and greeting byte for byte', () => {
      let checked = 0;
      for (const raw of allRawLines()) {
        if (raw.includes(', inf]')) continue; // not JSON: checked from its request below
        const line = raw.replace(TIMESTAMP, '1700000000');
        const value = asQemuBuiltIt(parsed(line.slice(0, -2)));
        expect(formatQmpLine(value)).to.equal(line);
        checked++;
      }
      expect(checked).to.be.above(500);
    });

    it('echoes the number forms of number_forms_in_id as QEMU did, inf included', () => {
      const step = probe('number_forms_in_id').steps[0];
      const request = parsed(new TextDecoder().decode(stepWrites('number_forms_in_id', step)[0])) as JsonObject;
      const version = { qemu: { major: 10, minor: 0, micro: 2 }, package: 'Debian 1:10.0.2+ds-2+deb13u1~bpo12+1' };
      expect(formatQmpLine({ return: version, id: request.id })).to.equal((step.responses as OracleResponse[])[0].raw);
      expect(formatJson(request.id)).to.equal('[0, 0, 1, 1000, -0.0015, 12345678901234567890, inf]');
    });

    it('echoes a 10 MB id as QEMU did', () => {
      const step = probe('large_10MB_string_id_echo').steps[0];
      const request = parsed(new TextDecoder().decode(stepWrites('large_10MB_string_id_echo', step)[0])) as JsonObject;
      const version = { qemu: { major: 10, minor: 0, micro: 2 }, package: 'Debian 1:10.0.2+ds-2+deb13u1~bpo12+1' };
      const line = formatQmpLine({ return: version, id: request.id });
      const reply = (step.responses as OracleResponse[])[0];
      expect(line.length).to.equal(reply.raw_len);
      expect(line.startsWith(reply.raw_head!)).to.equal(true);
      expect(line.endsWith(reply.raw_tail!)).to.equal(true);
    });
  });

  describe('member order', () => {
    it('hashes keys into QDict buckets with tdb_hash, over modified UTF-8', () => {
      const buckets: Array<[string, number]> = [
        ['micro', 225], ['minor', 225], ['major', 481], ['return', 401], ['id', 486], ['error', 489],
        ['class', 211], ['desc', 377], ['timestamp', 26], ['event', 361], ['data', 505], ['seconds', 5],
        ['microseconds', 374], ['QMP', 99], ['version', 184], ['qemu', 232], ['package', 326],
        ['capabilities', 216], ['status', 202], ['running', 246], ['', 57], ['é', 100], ['a\u0000b', 344],
        ['😀', 445], ['device', 49], ['path', 253],
      ];
      for (const [k, b] of buckets) expect(qdictBucket(k), JSON.stringify(k)).to.equal(b);
    });

    it('orders members as QEMU iterates a QDict, whatever order the server built them in', () => {
      expect(formatJson({ id: 1, return: {} })).to.equal('{"return": {}, "id": 1}');
      expect(formatJson({ error: { desc: 'd', class: 'GenericError' }, id: 'x' }))
        .to.equal('{"id": "x", "error": {"class": "GenericError", "desc": "d"}}');
      expect(formatJson({ event: 'STOP', data: { a: 1 }, timestamp: { microseconds: 2, seconds: 1 } }))
        .to.equal('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP", "data": {"a": 1}}');
      expect(formatJson({ running: true, status: 'running' })).to.equal('{"status": "running", "running": true}');
    });

    it('puts the most recently inserted key of a bucket first', () => {
      expect(formatJson({ major: 10, minor: 0, micro: 2 })).to.equal('{"micro": 2, "minor": 0, "major": 10}');
      expect(formatJson({ micro: 2, minor: 0, major: 10 })).to.equal('{"minor": 0, "micro": 2, "major": 10}');
      expect(qdictKeyOrder(['major', 'minor', 'micro'])).to.deep.equal(['micro', 'minor', 'major']);
    });

    it('uses the insertion order the parser recorded when JS moved integer-like keys', () => {
      const v = parsed('{"b":1,"10":2,"a":3}') as JsonObject;
      const order = qdictKeyOrder(['b', '10', 'a']);
      expect(qdictOrderOf(v)).to.deep.equal(order);
      expect(formatJson(v)).to.equal(`{${order.map((k) => `"${k}": ${String(v[k])}`).join(', ')}}`);
    });

    it('leaves out members whose value is undefined', () => {
      const v = { return: undefined, id: 1 } as unknown as JsonValue;
      expect(formatJson(v)).to.equal('{"id": 1}');
    });
  });

  describe('scalars', () => {
    it('escapes strings as quoted_str does: ASCII only, upper-case hex', () => {
      expect(quoteString('plain / text')).to.equal('"plain / text"');
      expect(quoteString('"\\\b\f\n\r\t')).to.equal('"\\"\\\\\\b\\f\\n\\r\\t"');
      expect(quoteString('\u0000\u0001\u001f\u007f')).to.equal('"\\u0000\\u0001\\u001F\\u007F"');
      expect(quoteString('é€😀')).to.equal('"\\u00E9\\u20AC\\uD83D\\uDE00"');
      expect(quoteString('\ud800x\udc00')).to.equal('"\\uFFFDx\\uFFFD"');
      expect(quoteString('\ufffe\uffff\ufdd0\u{1fffe}\ufffd')).to.equal('"\\uFFFD\\uFFFD\\uFFFD\\uFFFD\\uFFFD"');
    });

    it('prints doubles like printf("%.17g") in glibc, ties to even included', () => {
      const table: Array<[number, string]> = [
    [0.1, "0.10000000000000001"],
    [0.2, "0.20000000000000001"],
    [0.3, "0.29999999999999999"],
    [0.3333333333333333, "0.33333333333333331"],
    [0.6666666666666666, "0.66666666666666663"],
    [1.5, "1.5"],
    [-1.5, "-1.5"],
    [100.0, "100"],
    [1e+16, "10000000000000000"],
    [1e+17, "1e+17"],
    [1.2345678901234566e+17, "1.2345678901234566e+17"],
    [1e+21, "1e+21"],
    [1e+22, "1e+22"],
    [0.0001, "0.0001"],
    [1e-05, "1.0000000000000001e-05"],
    [0.00012345, "0.00012344999999999999"],
    [123456.789, "123456.789"],
    [-0.0015, "-0.0015"],
    [9007199254740992, "9007199254740992"],
    [9007199254740994, "9007199254740994"],
    [18446744073709551616, "1.8446744073709552e+19"],
    [1.7976931348623157e+308, "1.7976931348623157e+308"],
    [5e-324, "4.9406564584124654e-324"],
    [2.2250738585072014e-308, "2.2250738585072014e-308"],
    [1234567890.0039062, "1234567890.0039062"],
    [1234567891.0039062, "1234567891.0039062"],
    [0.5, "0.5"],
    [0.25, "0.25"],
    [1e+100, "1e+100"],
    [-1e-100, "-1e-100"],
    [3.141592653589793, "3.1415926535897931"],
    [2.718281828459045, "2.7182818284590451"],
    [9.999999999999998e+16, "99999999999999984"],
    [9.999999999999998e+16, "99999999999999984"],
    [2.7216092808335446e+276, "2.7216092808335446e+276"],
    [3.035766360112293e-65, "3.0357663601122928e-65"],
    [6.665830898196862e-279, "6.6658308981968623e-279"],
    [2.3558459513947972e+198, "2.3558459513947972e+198"],
    [1.2418970069620836e-250, "1.2418970069620836e-250"],
    [2.319469273766672e+51, "2.3194692737666721e+51"],
    [7.873531487934826e+252, "7.8735314879348264e+252"],
    [2.6878898238430084e-176, "2.6878898238430084e-176"],
    [1.086847153644306e-255, "1.0868471536443061e-255"],
    [7.572358053192185e-51, "7.5723580531921849e-51"],
    [2.6713290337373985e-160, "2.6713290337373985e-160"],
    [6.266356115726005e+31, "6.2663561157260052e+31"],
    [3.13010388235547e-272, "3.1301038823554698e-272"],
    [4.569785438180719e+40, "4.5697854381807186e+40"],
    [1.5255942855744936e+276, "1.5255942855744936e+276"],
    [7.218027539944233e+80, "7.2180275399442334e+80"],
    [2.959712980820823e+51, "2.9597129808208229e+51"],
    [1.6027751755097824e-270, "1.6027751755097824e-270"],
    [1.1386802021941775e+53, "1.1386802021941775e+53"],
    [4.397094309717868e-278, "4.3970943097178681e-278"],
    [952510.2111858402, "952510.21118584019"],
    [-906834.6387644875, "-906834.63876448746"],
    [716936.9180973591, "716936.91809735913"],
    [-420781.4273366475, "-420781.42733664752"],
    [-711489.833285125, "-711489.83328512497"],
    [-764415.5238432633, "-764415.52384326328"],
    [-383036.35179613123, "-383036.35179613123"],
    [632252.7182400627, "632252.71824006271"],
    [-638547.240152125, "-638547.24015212501"],
    [163200.32732493244, "163200.32732493244"],
      ];
      for (const [x, s] of table) expect(formatDouble(x), String(x)).to.equal(s);
      expect([formatDouble(-0), formatDouble(Infinity), formatDouble(-Infinity), formatDouble(NaN)])
        .to.deep.equal(['-0', 'inf', '-inf', 'nan']);
    });

    it('prints each number kind as QNum does', () => {
      expect(formatJson([0, -7, 9007199254740991, 12345678901234567890n, -(2n ** 63n)]))
        .to.equal('[0, -7, 9007199254740991, 12345678901234567890, -9223372036854775808]');
      // A JS number beyond 2^53 can only be a double; big integers are bigints.
      expect(formatJson([new JsonFloat(1), new JsonFloat(-0), new JsonFloat(0.1), 1.5, 2 ** 60, new JsonFloat(1e20)]))
        .to.equal('[1, -0, 0.10000000000000001, 1.5, 1.152921504606847e+18, 1e+20]');
    });
  });

  describe('pretty mode', () => {
    it('indents by four spaces and breaks lines as json-writer.c does', () => {
      expect(formatJson({ return: {}, id: 1 }, true)).to.equal('{\n    "return": {\n    },\n    "id": 1\n}');
      expect(formatJson({ return: [1, [], { a: 'b' }] }, true)).to.equal(
        '{\n    "return": [\n        1,\n        [\n        ],\n        {\n            "a": "b"\n        }\n    ]\n}',
      );
      expect(formatJson([], true)).to.equal('[\n]');
      expect(formatJson('s', true)).to.equal('"s"');
    });

    it('ends every line of a pretty QMP message with CRLF, as the monitor does', () => {
      expect(formatQmpLine({ return: {} }, true)).to.equal('{\r\n    "return": {\r\n    }\r\n}\r\n');
      expect(formatQmpLine({ return: {} })).to.equal('{"return": {}}\r\n');
    });
  });

  describe('properties', () => {
    it('writes one ASCII line that reads back as the same value, number kinds aside', () => {
      const rand = mulberry32(20250601);
      for (let round = 0; round < 500; round++) {
        const v = randomValue(rand, 4, true);
        for (const pretty of [false, true]) {
          const text = formatJson(v, pretty);
          expect(/^[\x20-\x7e\n]*$/.test(text), text).to.equal(true);
          if (!pretty) expect(text.includes('\n')).to.equal(false);
          // As in QEMU, a float that prints as an integer reads back as one.
          expect(canonical(parsed(text + ' '), true), text).to.equal(canonical(v, true));
        }
      }
    });

    it('is fast enough for the pipelined hot path', () => {
      const reply = { return: { qemu: { major: 10, minor: 0, micro: 2 }, package: 'Debian 1:10.0.2' }, id: 12345 };
      const n = 100000;
      const t0 = performance.now();
      let len = 0;
      for (let i = 0; i < n; i++) len += formatQmpLine(reply).length;
      const perSecond = n / ((performance.now() - t0) / 1000);
      expect(len).to.be.above(0);
      expect(perSecond).to.be.above(200000);
    });
  });
});
