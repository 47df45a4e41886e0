/*
 * QMP input: bytes off the socket -> one JSON value or one error per message,
 * exactly as QEMU 10's qobject/json-streamer.c delimits and reports them.
 *
 * How QEMU cuts the stream into messages (json_message_process_token):
 * - every token goes into the current message;
 * - '{' '}' '[' ']' move two separate counters; the message ends as soon as
 *   neither counter is positive, or either is negative.  So a top-level scalar
 *   is a message by itself, a stray '}' is a message ("expecting value"), and a
 *   bare `42` or `hello` is only seen when the byte after it arrives;
 * - a lex error ends the message at once with "stray '<bytes>'"; whatever follows
 *   is lexed afresh after resynchronisation (so `{"execute":%s}` answers twice);
 * - limits: the bytes of a message's tokens + 1 must not exceed 64 MiB, a message
 *   holds at most 2M tokens, and braces + brackets open at once at most 1024.
 * - at end of input QMP drops a partial message silently (the monitor re-creates
 *   its parser on CHR_EVENT_CLOSED).
 *
 * Where we differ, on purpose: after a limit error QEMU forgets the message and
 * lexes its remainder as new input, answering hundreds of bogus errors and
 * sometimes mis-parsing the next request.  We answer one error and skip to the
 * end of the refused message (still lexing, so strings and nesting are honoured,
 * but keeping no bytes), then carry on cleanly.  An over-long token is refused as
 * soon as it crosses the limit rather than when it ends; nothing else can be
 * observed in between.
 *
 * Speed: the exact path below runs QEMU's lexer byte by byte.  Most QMP traffic
 * is small, plain, standard JSON, so a message that starts between messages with
 * '{' or '[' and lies whole in the current chunk is first scanned by a tight
 * loop; if it only uses constructs where JSON.parse provably agrees with QEMU
 * (ASCII, double quotes, no \u escapes, short integers, no floats, no duplicate
 * or integer-like keys, within limits), JSON.parse builds the value.  Anything
 * else is handed to the exact path from the message's first byte.
 */

import { JsonLexer, LexState, Tok, type TokenSink } from './json-lexer.js';
import { TokenQueue, parseTokens, scalarValue } from './json-grammar.js';
import { asciiString, lossyCString, type JsonValue } from './json-value.js';

export {
  JsonFloat,
  KEY_ORDER,
  isJsonInteger,
  isJsonNumber,
  isJsonObject,
  jsonNumberToDouble,
  type JsonNumber,
  type JsonObject,
  type JsonValue,
} from './json-value.js';

export interface Limits {
  /** Bytes of all tokens of one message, plus one, may not exceed this (QEMU: 64 MiB). */
  maxTokenSize: number;
  /** Tokens in one message (QEMU: 2M). */
  maxTokenCount: number;
  /** Braces + brackets open at once (QEMU: 1024). */
  maxNesting: number;
}

export const QEMU_LIMITS: Readonly<Limits> = Object.freeze({
  maxTokenSize: 64 * 1024 * 1024,
  maxTokenCount: 2 * 1024 * 1024,
  maxNesting: 1024,
});

export type JsonParseErrorCode = 'json-parse' | 'token-size' | 'token-count' | 'nesting';

/** `desc` is QEMU's exact text; QMP reports it as a GenericError without an id. */
export interface JsonParseError {
  code: JsonParseErrorCode;
  desc: string;
}

export type JsonParseResult = { value: JsonValue } | { error: JsonParseError };

const LIMIT_DESC: Record<Exclude<JsonParseErrorCode, 'json-parse'>, string> = {
  'token-size': 'JSON token size limit exceeded',
  'token-count': 'JSON token count limit exceeded',
  nesting: 'JSON nesting depth limit exceeded',
};

/* ---------------------------------------------------------- exact path -- */

/** json-streamer.c: groups tokens into messages, enforces limits, parses. */
class Streamer implements TokenSink {
  readonly lexer = new JsonLexer(this);
  private readonly queue = new TokenQueue();
  private braces = 0;
  private brackets = 0;
  private tokenSize = 0;
  /** Skipping the rest of a message already answered with a limit error. */
  private discarding = false;

  constructor(
    private readonly emit: (r: JsonParseResult) => void,
    private readonly limits: Limits,
  ) {
    this.lexer.budget = limits.maxTokenSize - 1;
  }

  idle(): boolean {
    return this.queue.length === 0 && !this.discarding;
  }

  /** Between messages with the lexer in IN_START: the fast path may take over. */
  ready(): boolean {
    return this.lexer.state === LexState.Start && this.idle();
  }

  /** QEMU's "emit now" test: no counter positive, or one negative. */
  private messageEnds(): boolean {
    return !((this.braces > 0 || this.brackets > 0) && this.braces >= 0 && this.brackets >= 0);
  }

  token(type: Tok): void {
    switch (type) {
      case Tok.LCurly: this.braces++; break;
      case Tok.RCurly: this.braces--; break;
      case Tok.LSquare: this.brackets++; break;
      case Tok.RSquare: this.brackets--; break;
      default: break;
    }
    if (this.discarding) {
      if (this.messageEnds()) this.resetMessage();
      return;
    }
    const scalar = type >= Tok.Integer;
    const len = scalar ? this.lexer.tokLen : 1;
    const { maxTokenSize, maxTokenCount, maxNesting } = this.limits;
    if (this.tokenSize + len + 1 > maxTokenSize) return this.refuse('token-size', false);
    if (this.queue.length + 1 > maxTokenCount) return this.refuse('token-count', false);
    if (this.braces + this.brackets > maxNesting) return this.refuse('nesting', false);

    this.queue.push(type, scalar ? scalarValue(type, this.lexer.tok, len) : null);
    this.tokenSize += len;
    this.lexer.budget = maxTokenSize - 1 - this.tokenSize;
    if (!this.messageEnds()) return;

    const r = parseTokens(this.queue);
    this.resetMessage();
    this.emit('value' in r ? r : { error: { code: 'json-parse', desc: r.desc } });
  }

  lexError(): void {
    if (this.discarding) {
      // The refused message was already answered; resynchronise silently.
      this.resetMessage();
      return;
    }
    const bytes = lossyCString(this.lexer.tok, 0, this.lexer.tokLen);
    this.resetMessage();
    this.emit({ error: { code: 'json-parse', desc: `JSON parse error, stray '${bytes}'` } });
  }

  oversize(): void {
    if (!this.discarding) this.refuse('token-size', true);
  }

  /**
   * Answers a limit error once, then skips to the end of the message.  A token
   * still being lexed (`midToken`) is skipped too, even at top level.
   */
  private refuse(code: Exclude<JsonParseErrorCode, 'json-parse'>, midToken: boolean): void {
    this.queue.clear();
    this.tokenSize = 0;
    if (!midToken && this.messageEnds()) {
      this.resetMessage();
    } else {
      this.discarding = true;
      this.lexer.storing = false;
      this.lexer.tokLen = 0; // the refused token's bytes are dead: do not hold up to 64 MiB
      this.lexer.release();
    }
    this.emit({ error: { code, desc: LIMIT_DESC[code] } });
  }

  private resetMessage(): void {
    this.queue.clear();
    this.braces = 0;
    this.brackets = 0;
    this.tokenSize = 0;
    this.discarding = false;
    this.lexer.storing = true;
    this.lexer.budget = this.limits.maxTokenSize - 1;
    this.lexer.release();
  }

  /** json_lexer_flush + JSON_END_OF_INPUT, for parsing a complete document. */
  flush(): void {
    this.lexer.flush();
    if (this.discarding || this.queue.length === 0) {
      this.resetMessage();
      return;
    }
    const r = parseTokens(this.queue);
    this.resetMessage();
    this.emit('value' in r ? r : { error: { code: 'json-parse', desc: r.desc } });
  }

  /** A fresh parser, as QMP makes one when a client disconnects. */
  reset(): void {
    this.lexer.reset();
    this.resetMessage();
  }
}

/* ----------------------------------------------------------- fast path -- */

const enum C { Other, Ws, LBrace, RBrace, LBrack, RBrack, Quote, Comma, Colon, Digit, Minus, Letter }

const CLASS = new Uint8Array(256);
for (const ch of ' \t\r\n') CLASS[ch.charCodeAt(0)] = C.Ws;
CLASS[0x7b] = C.LBrace;
CLASS[0x7d] = C.RBrace;
CLASS[0x5b] = C.LBrack;
CLASS[0x5d] = C.RBrack;
CLASS[0x22] = C.Quote;
CLASS[0x2c] = C.Comma;
CLASS[0x3a] = C.Colon;
CLASS[0x2d] = C.Minus;
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = C.Digit;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = C.Letter;

/** Escapes JSON.parse and QEMU decode identically (not \u, not \'). */
const PLAIN_ESCAPE = new Uint8Array(256);
for (const ch of '"\\/bfnrt') PLAIN_ESCAPE[ch.charCodeAt(0)] = 1;

/** Colons seen by the last successful fastScan: one per object member. */
let scanColons = 0;

/**
 * Finds the end of a plain message starting at buf[start] ('{' or '['), or
 * returns -1 if it is incomplete in this chunk or uses anything unusual.
 */
function fastScan(buf: Uint8Array, start: number, end: number, limits: Limits): number {
  let braces = 0;
  let brackets = 0;
  let tokens = 0;
  let colons = 0;
  let scalar = 0; // 0: between tokens, 1: in a number, 2: in a keyword
  let digits = 0;
  let afterMinus = false;
  let i = start;
  while (i < end) {
    const b = buf[i];
    const c = CLASS[b];
    if (c === C.Digit) {
      if (scalar === 2 || ++digits > 15 || (b === 0x30 && afterMinus)) return -1;
      if (scalar === 0) {
        tokens++;
        scalar = 1;
      }
      afterMinus = false;
      i++;
      continue;
    }
    afterMinus = false;
    switch (c) {
      case C.Quote:
        tokens++;
        i++;
        for (;;) {
          if (i >= end) return -1;
          const x = buf[i];
          if (x === 0x22) break;
          if (x === 0x5c) {
            if (i + 1 >= end || PLAIN_ESCAPE[buf[i + 1]] === 0) return -1;
            i += 2;
            continue;
          }
          if (x < 0x20 || x > 0x7e) return -1;
          i++;
        }
        break;
      case C.Letter:
        if (scalar === 1) return -1; // an exponent, or garbage: not for this path
        if (scalar === 0) {
          tokens++;
          scalar = 2;
        }
        i++;
        continue;
      case C.Minus:
        if (scalar !== 0) return -1;
        tokens++;
        scalar = 1;
        digits = 0;
        afterMinus = true;
        i++;
        continue;
      case C.Ws:
        break;
      case C.Comma:
        tokens++;
        break;
      case C.Colon:
        tokens++;
        colons++;
        break;
      case C.LBrace:
      case C.LBrack:
        tokens++;
        if (c === C.LBrace) braces++;
        else brackets++;
        if (braces + brackets > limits.maxNesting) return -1;
        break;
      case C.RBrace:
      case C.RBrack:
        tokens++;
        if (c === C.RBrace) braces--;
        else brackets--;
        if (braces < 0 || brackets < 0) return -1;
        if (braces === 0 && brackets === 0) {
          const stop = i + 1;
          if (tokens > limits.maxTokenCount || stop - start + 1 > limits.maxTokenSize) return -1;
          scanColons = colons;
          return stop;
        }
        break;
      default:
        return -1;
    }
    scalar = 0;
    digits = 0;
    i++;
  }
  return -1;
}

const NOT_PLAIN: unique symbol = Symbol('not plain');

/** Object members in a parsed value, or -1 if a key would lose its insertion order. */
function countMembers(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) {
      const m = countMembers(x);
      if (m < 0) return -1;
      n += m;
    }
    return n;
  }
  const obj = v as Record<string, unknown>;
  for (const k in obj) {
    const c = k.charCodeAt(0);
    if (c >= 0x30 && c <= 0x39) return -1;
    const m = countMembers(obj[k]);
    if (m < 0) return -1;
    n += m + 1;
  }
  return n;
}

function fastParse(text: string, colons: number): JsonValue | typeof NOT_PLAIN {
  let v: JsonValue;
  try {
    v = JSON.parse(text) as JsonValue;
  } catch {
    return NOT_PLAIN;
  }
  // JSON.parse keeps the last of duplicate keys; QEMU refuses them.
  if (colons > 0 && countMembers(v) !== colons) return NOT_PLAIN;
  return v;
}

type Latin1Capable = Uint8Array & { latin1Slice?: (start: number, end: number) => string };
let latin1Decoder: { decode(input: Uint8Array): string } | null | undefined;

/** The chunk as one string, one char per byte (so byte offsets index it); null if unavailable. */
function chunkText(buf: Uint8Array, start: number, end: number): string | null {
  const b = buf as Latin1Capable;
  if (typeof b.latin1Slice === 'function') return b.latin1Slice(start, end);
  if (latin1Decoder === undefined) {
    try {
      latin1Decoder = new TextDecoder('latin1');
    } catch {
      latin1Decoder = null;
    }
  }
  return latin1Decoder === null ? null : latin1Decoder.decode(buf.subarray(start, end));
}

/* ------------------------------------------------------------- the API -- */

export class JsonStreamParser {
  private readonly limits: Limits;
  private readonly streamer: Streamer;
  private busy = false;
  private readonly queued: Uint8Array[] = [];
  /** Bumped by end(); a feed loop that sees it change stops at once. */
  private epoch = 0;

  /**
   * `onMessage` is called synchronously from push(), once per message, in input
   * order.  It may call end() (the rest of the input is then dropped) or push()
   * (the bytes are queued behind the current ones).
   */
  constructor(
    private readonly onMessage: (result: JsonParseResult) => void,
    limits?: Partial<Limits>,
  ) {
    this.limits = { ...QEMU_LIMITS, ...limits };
    this.streamer = new Streamer((r) => this.onMessage(r), this.limits);
  }

  push(chunk: Uint8Array): void {
    if (this.busy) {
      this.queued.push(new Uint8Array(chunk)); // the caller may reuse its buffer
      return;
    }
    this.busy = true;
    try {
      this.feed(chunk);
      while (this.queued.length > 0) this.feed(this.queued.shift()!);
    } finally {
      this.busy = false;
      this.streamer.lexer.halted = false;
    }
  }

  /** End of input: a partial message is dropped without a reply, as QEMU does. */
  end(): void {
    this.epoch++;
    this.queued.length = 0;
    this.streamer.reset();
    this.streamer.lexer.halted = this.busy;
  }

  /** End of a complete document: a pending scalar or partial message is reported, as qobject_from_json does. */
  flush(): void {
    this.streamer.flush();
  }

  private feed(buf: Uint8Array): void {
    const epoch = this.epoch;
    const lexer = this.streamer.lexer;
    const n = buf.length;
    let text: string | null = null;
    let textBase = -1;
    let i = 0;
    while (i < n) {
      if (this.streamer.ready()) {
        const b = buf[i];
        if (CLASS[b] === C.Ws) {
          i++;
          continue;
        }
        if (b === 0x7b || b === 0x5b) {
          const stop = fastScan(buf, i, n, this.limits);
          if (stop > 0) {
            if (textBase < 0) {
              text = chunkText(buf, i, n);
              textBase = i;
            }
            const src = text !== null ? text.substring(i - textBase, stop - textBase) : asciiString(buf, i, stop);
            const value = fastParse(src, scanColons);
            if (value !== NOT_PLAIN) {
              i = stop;
              this.onMessage({ value });
              if (this.epoch !== epoch) return;
              continue;
            }
          }
        }
      }
      i = lexer.feed(buf, i, n, true);
      if (this.epoch !== epoch) return;
    }
  }
}

/**
 * qobject_from_json(): exactly one JSON value from a complete text, as QEMU
 * parses JSON given on its command line ("-device {...}").
 */
export function parseJsonDocument(input: string | Uint8Array, limits?: Partial<Limits>): JsonParseResult {
  let result: JsonParseResult | null = null;
  const parser = new JsonStreamParser((r) => {
    if (result === null) {
      result = r;
    } else if ('value' in result) {
      result = { error: { code: 'json-parse', desc: 'Expecting at most one JSON value' } };
    }
  }, limits);
  parser.push(typeof input === 'string' ? new TextEncoder().encode(input) : input);
  parser.flush();
  return result ?? { error: { code: 'json-parse', desc: 'Expecting a JSON value' } };
}
