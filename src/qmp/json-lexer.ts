/*
 * JSON lexer: a port of QEMU 10's qobject/json-lexer.c state table.
 *
 * QEMU's lexer accepts more than RFC 8259 in some places and less in others,
 * and its error texts quote the exact bytes it had swallowed, so this is a
 * table-for-table port rather than a "compatible" lexer:
 *
 * - strings may be single-quoted, and "\'" is an escape in both kinds;
 * - inside strings every byte 0x20..0xFD is accepted; escapes and UTF-8 are
 *   validated later, by the parser (so "\q" is a parse error, not a lex error);
 * - keywords are [a-z]+ (the parser rejects anything but true/false/null);
 * - numbers are RFC 8259 numbers; "01" is a lex error;
 * - any other byte is a lex error.  The lexer then skips input until a
 *   structural character, an ASCII control character other than TAB, or 0xFE /
 *   0xFF: QMP clients send one of these to resynchronise.
 *
 * A transition to a token type either consumes the byte (closing quote,
 * structural characters) or needs lookahead (numbers and keywords end at the
 * first byte that cannot continue them; that byte is then lexed again from
 * IN_START).  LOOKAHEAD marks the second kind, as in QEMU.
 *
 *             +---------+  '"' / '\''   +-----------+  '\\'  +------------------+
 *   ws ---->  | IN_START| ------------> | IN_*_STRING| -----> | IN_*_STRING_ESCAPE|
 *             +---------+ <-- closing quote (token) --+  <----+------------------+
 *               |  ^  \--- 0..9 / '-' --> number states --(lookahead)--> token
 *               |  |   \-- a..z --------> IN_KEYWORD -----(lookahead)--> token
 *          other|  |
 *           byte v  | structural / control / 0xFE / 0xFF (lookahead)
 *             +-------------+
 *             | IN_RECOVERY |   (after reporting the stray bytes)
 *             +-------------+
 *
 * The lexer is pure: it owns the current token's bytes and reports tokens to a
 * sink.  It never allocates per byte; string bodies are copied in runs.
 */

/** Token types reported to the sink (json-parser-int.h values, so they can share the table). */
export const enum Tok {
  Error = 0,
  LCurly = 100,
  RCurly = 101,
  LSquare = 102,
  RSquare = 103,
  Colon = 104,
  Comma = 105,
  Integer = 106,
  Float = 107,
  Keyword = 108,
  String = 109,
}

/** Lexer states.  Must stay below Tok.LCurly: table entries hold either. */
export const enum LexState {
  Recovery = 1,
  DqStringEscape = 2,
  DqString = 3,
  SqStringEscape = 4,
  SqString = 5,
  Zero = 6,
  ExpDigits = 7,
  ExpSign = 8,
  ExpE = 9,
  Mantissa = 10,
  MantissaDigits = 11,
  Digits = 12,
  Sign = 13,
  Keyword = 14,
  Start = 15,
}

const STATE_COUNT = 16;
const LOOKAHEAD = 0x80;

/** Receives tokens.  `text` is only meaningful for scalar and error tokens. */
export interface TokenSink {
  /** A complete token; scalar text is lexer.tok[0..lexer.tokLen). */
  token(type: Tok): void;
  /** A lex error; the offending bytes are lexer.tok[0..lexer.tokLen). */
  lexError(): void;
  /** The current token outgrew the budget the sink set (see JsonLexer.budget). */
  oversize(): void;
  /** Between messages: nothing buffered, so a caller may bypass the lexer. */
  idle(): boolean;
}

function buildTable(): Uint8Array {
  const t = new Uint8Array(STATE_COUNT * 256); // default 0 = Tok.Error
  const set = (s: number, from: number | string, to: number | string, v: number): void => {
    const a = typeof from === 'string' ? from.charCodeAt(0) : from;
    const b = typeof to === 'string' ? to.charCodeAt(0) : to;
    for (let c = a; c <= b; c++) t[s * 256 + c] = v;
  };
  const one = (s: number, ch: string, v: number): void => set(s, ch, ch, v);
  const terminal = (s: number, tok: number): void => set(s, 0, 0xff, tok | LOOKAHEAD);

  // Error recovery: skip to a promising resynchronisation point.
  set(LexState.Recovery, 0, 0x1f, LexState.Start | LOOKAHEAD);
  set(LexState.Recovery, 0x20, 0xfd, LexState.Recovery);
  set(LexState.Recovery, 0xfe, 0xff, LexState.Start | LOOKAHEAD);
  one(LexState.Recovery, '\t', LexState.Recovery);
  for (const ch of '[]{}:,') one(LexState.Recovery, ch, LexState.Start | LOOKAHEAD);

  for (const [str, esc, quote] of [
    [LexState.DqString, LexState.DqStringEscape, '"'],
    [LexState.SqString, LexState.SqStringEscape, "'"],
  ] as const) {
    set(esc, 0x20, 0xfd, str);
    set(str, 0x20, 0xfd, str);
    one(str, '\\', esc);
    one(str, quote, Tok.String);
  }

  terminal(LexState.Zero, Tok.Integer);
  set(LexState.Zero, '0', '9', Tok.Error);
  one(LexState.Zero, '.', LexState.Mantissa);

  terminal(LexState.ExpDigits, Tok.Float);
  set(LexState.ExpDigits, '0', '9', LexState.ExpDigits);
  set(LexState.ExpSign, '0', '9', LexState.ExpDigits);
  one(LexState.ExpE, '-', LexState.ExpSign);
  one(LexState.ExpE, '+', LexState.ExpSign);
  set(LexState.ExpE, '0', '9', LexState.ExpDigits);

  terminal(LexState.MantissaDigits, Tok.Float);
  set(LexState.MantissaDigits, '0', '9', LexState.MantissaDigits);
  one(LexState.MantissaDigits, 'e', LexState.ExpE);
  one(LexState.MantissaDigits, 'E', LexState.ExpE);
  set(LexState.Mantissa, '0', '9', LexState.MantissaDigits);

  terminal(LexState.Digits, Tok.Integer);
  set(LexState.Digits, '0', '9', LexState.Digits);
  one(LexState.Digits, 'e', LexState.ExpE);
  one(LexState.Digits, 'E', LexState.ExpE);
  one(LexState.Digits, '.', LexState.Mantissa);
  one(LexState.Sign, '0', LexState.Zero);
  set(LexState.Sign, '1', '9', LexState.Digits);

  terminal(LexState.Keyword, Tok.Keyword);
  set(LexState.Keyword, 'a', 'z', LexState.Keyword);

  const s = LexState.Start;
  one(s, '"', LexState.DqString);
  one(s, "'", LexState.SqString);
  one(s, '0', LexState.Zero);
  set(s, '1', '9', LexState.Digits);
  one(s, '-', LexState.Sign);
  one(s, '{', Tok.LCurly);
  one(s, '}', Tok.RCurly);
  one(s, '[', Tok.LSquare);
  one(s, ']', Tok.RSquare);
  one(s, ',', Tok.Comma);
  one(s, ':', Tok.Colon);
  set(s, 'a', 'z', LexState.Keyword);
  for (const ch of ' \t\r\n') one(s, ch, LexState.Start);
  return t;
}

const TABLE = buildTable();

export class JsonLexer {
  state: LexState = LexState.Start;
  /** Bytes of the current token (scalars and stray bytes only matter). */
  tok = new Uint8Array(256);
  tokLen = 0;
  /**
   * When false the lexer still tracks token boundaries but keeps no bytes: the
   * sink is skipping the rest of a message it already refused.
   */
  storing = true;
  /** The sink's limit on the current token's length; exceeding it calls sink.oversize(). */
  budget = Number.MAX_SAFE_INTEGER;
  /** Set by the owner to abandon the rest of the input being fed (end of stream). */
  halted = false;

  constructor(private readonly sink: TokenSink) {}

  reset(): void {
    this.state = LexState.Start;
    this.tokLen = 0;
    this.storing = true;
    this.release();
  }

  /**
   * Drops a token buffer that a huge token left behind, so an idle connection
   * holds little.  Only between tokens: the bytes of the last one are dead.
   */
  release(): void {
    if (this.tok.length > 65536) this.tok = new Uint8Array(256);
  }

  /**
   * Lexes buf[start..end).  When `stopWhenIdle` is set, returns as soon as the
   * lexer is back in IN_START and the sink is idle, so the caller can take a
   * faster route; otherwise returns `end`.
   */
  feed(buf: Uint8Array, start: number, end: number, stopWhenIdle: boolean): number {
    const sink = this.sink;
    let i = start;
    while (i < end) {
      let state = this.state;
      if (state === LexState.DqString || state === LexState.SqString) {
        i = this.stringRun(buf, i, end, state === LexState.DqString ? 0x22 : 0x27);
        if (i >= end) break;
      }
      const ch = buf[i++];
      for (;;) {
        const next = TABLE[state * 256 + ch];
        const consumed = (next & LOOKAHEAD) === 0;
        const ns = next & 0x7f;
        if (consumed && this.storing) this.append(ch);
        if (ns >= Tok.LCurly) {
          state = this.state = LexState.Start;
          sink.token(ns as Tok);
          this.tokLen = 0;
        } else if (ns === LexState.Start) {
          state = this.state = LexState.Start;
          this.tokLen = 0;
        } else if (ns === Tok.Error) {
          state = this.state = LexState.Recovery;
          sink.lexError();
          this.tokLen = 0;
        } else if (ns === LexState.Recovery) {
          state = this.state = LexState.Recovery;
          this.tokLen = 0;
        } else {
          state = this.state = ns as LexState;
          if (this.tokLen > this.budget && this.storing) sink.oversize();
        }
        if (consumed) break;
      }
      if (this.halted) return end;
      if (stopWhenIdle && this.state === LexState.Start && sink.idle()) return i;
    }
    return i;
  }

  /**
   * json_lexer_flush(): end of a complete document.  Feeds a NUL that is never
   * consumed, so a pending number or keyword ends and an open string is a stray.
   */
  flush(): void {
    const sink = this.sink;
    while (this.state !== LexState.Start) {
      const ns = TABLE[this.state * 256] & 0x7f;
      if (ns >= Tok.LCurly) {
        this.state = LexState.Start;
        sink.token(ns as Tok);
      } else if (ns === Tok.Error) {
        this.state = LexState.Recovery;
        sink.lexError();
      } else {
        this.state = ns as LexState;
      }
      this.tokLen = 0;
    }
  }

  /** Copies a run of ordinary string bytes in one go; returns where the run stopped. */
  private stringRun(buf: Uint8Array, i: number, end: number, quote: number): number {
    let j = i;
    while (j < end) {
      const b = buf[j];
      if (b < 0x20 || b > 0xfd || b === 0x5c || b === quote) break;
      j++;
    }
    if (j > i && this.storing) {
      const n = j - i;
      if (this.tokLen + n > this.budget) {
        // Keep only what fits; the sink stops storage and skips the rest.
        const fit = Math.max(0, this.budget - this.tokLen);
        this.appendRange(buf, i, i + fit);
        this.tokLen = this.budget + 1;
        this.sink.oversize();
      } else {
        this.appendRange(buf, i, j);
      }
    }
    return j;
  }

  private append(ch: number): void {
    if (this.tokLen === this.tok.length) this.grow(this.tokLen + 1);
    this.tok[this.tokLen++] = ch;
  }

  private appendRange(buf: Uint8Array, a: number, b: number): void {
    const n = b - a;
    if (this.tokLen + n > this.tok.length) this.grow(this.tokLen + n);
    this.tok.set(buf.subarray(a, b), this.tokLen);
    this.tokLen += n;
  }

  private grow(need: number): void {
    let cap = this.tok.length * 2;
    while (cap < need) cap *= 2;
    // Never reserve far beyond what the budget lets a token reach.
    cap = Math.max(need, Math.min(cap, this.budget + 2));
    const t = new Uint8Array(cap);
    t.set(this.tok.subarray(0, this.tokLen));
    this.tok = t;
  }
}
