// Selective acknowledgment (RFC 2018) for the guest's TCP (tcp.ts), both halves:
//
// Reassembly is the receiver's: data that arrived beyond a hole, kept until the hole is filled,
// and the SACK blocks that tell the peer what is already here (the most recently extended block
// first, as §4 asks, so a sender that sees only some ACKs still learns about every arrival).
// Pieces are kept without overlap, so a retransmission cut differently from the original (the
// peer's SACK recovery resends only holes) still fits together.
//
// SackScoreboard is the sender's: the ranges the peer reported holding beyond the cumulative
// ACK, so that recovery resends only the holes between them instead of the whole window.

import { seqAdd, seqDiff, seqLe, seqLt, seqMax, type SeqRange, MAX_SACK_BLOCKS } from './tcp-segment.js';

interface Piece {
  seq: number;
  data: Uint8Array;
}

const end = (p: Piece): number => seqAdd(p.seq, p.data.length);
const bySeq = (a: { seq: number }, b: { seq: number }): number => (a.seq - b.seq) | 0;

export class Reassembly {
  /** Sorted by sequence number, none overlapping. */
  private pieces: Piece[] = [];
  /** Where the peer's FIN sits, once a segment beyond the hole carried it. */
  private finAt: number | null = null;
  /** A sequence number inside each recently extended block, most recent first. */
  private recent: number[] = [];
  /** Payload bytes held. */
  bytes = 0;

  get empty(): boolean {
    return this.pieces.length === 0 && this.finAt === null;
  }

  /** Keeps a copy of what of [seq, seq + data.length) is not held yet. */
  add(seq: number, data: Uint8Array, fin: boolean): void {
    if (fin) this.finAt = seqAdd(seq, data.length);
    if (data.length > 0) this.recent = [seq, ...this.recent.filter((s) => s !== seq)].slice(0, MAX_SACK_BLOCKS * 2);
    const last = this.pieces[this.pieces.length - 1];
    if (data.length > 0 && (!last || seqLe(end(last), seq))) {
      // The common case while a hole waits: the stream goes on arriving beyond it, in order.
      this.pieces.push({ seq, data: data.slice() });
      this.bytes += data.length;
      return;
    }
    let from = 0;
    const added: Piece[] = [];
    for (const p of this.pieces) {
      if (from >= data.length) break;
      const at = seqAdd(seq, from);
      if (seqLe(end(p), at)) continue;
      if (seqLt(at, p.seq)) {
        const gap = Math.min(data.length - from, seqDiff(p.seq, at));
        added.push({ seq: at, data: data.slice(from, from + gap) });
        from += gap;
      }
      from = Math.max(from, seqDiff(end(p), seq));
    }
    if (from < data.length) added.push({ seq: seqAdd(seq, from), data: data.slice(from) });
    if (added.length === 0) return;
    for (const p of added) this.bytes += p.data.length;
    this.pieces.push(...added);
    this.pieces.sort(bySeq);
  }

  /**
   * What now follows `rcvNxt` in order, taken out (data may be empty when only the FIN follows),
   * or null while the hole is still there. Whatever lies wholly before `rcvNxt` is dropped.
   */
  next(rcvNxt: number): { data: Uint8Array; fin: boolean } | null {
    while (this.pieces.length > 0 && seqLe(this.pieces[0]!.seq, rcvNxt)) {
      const p = this.pieces.shift()!;
      this.bytes -= p.data.length;
      if (seqLe(end(p), rcvNxt)) continue;
      const data = p.data.subarray(seqDiff(rcvNxt, p.seq));
      return { data, fin: this.finAt === end(p) };
    }
    if (this.finAt === rcvNxt) return { data: new Uint8Array(0), fin: true };
    return null;
  }

  /** Forgets everything (the stream is over, or the peer must resend). */
  clear(): void {
    this.pieces = [];
    this.recent = [];
    this.finAt = null;
    this.bytes = 0;
  }

  /** The SACK blocks to report: the block with the latest arrival first, then the others by recency, then by order. */
  blocks(): SeqRange[] {
    const runs: Array<[number, number]> = [];
    for (const p of this.pieces) {
      const last = runs[runs.length - 1];
      if (last && last[1] === p.seq) last[1] = end(p);
      else runs.push([p.seq, end(p)]);
    }
    const out: SeqRange[] = [];
    const within = (r: SeqRange, s: number): boolean => seqLe(r[0], s) && seqLt(s, r[1]);
    for (const s of this.recent) {
      const r = runs.find((x) => within(x, s));
      if (r && !out.includes(r)) out.push(r);
    }
    for (const r of runs) if (!out.includes(r)) out.push(r);
    return out.slice(0, MAX_SACK_BLOCKS);
  }
}

export class SackScoreboard {
  /** Sorted, merged, all beyond the cumulative ACK. */
  private ranges: Array<[number, number]> = [];

  /** Takes the peer's blocks that lie within (una, max]; others (D-SACK, stale, bogus) are ignored. */
  update(blocks: readonly SeqRange[], una: number, max: number): void {
    let changed = false;
    for (const [s, e] of blocks) {
      if (!seqLt(s, e) || !seqLt(una, e) || seqLt(max, e)) continue;
      this.ranges.push([seqMax(s, una), e]);
      changed = true;
    }
    if (!changed) return;
    this.ranges.sort((a, b) => (a[0] - b[0]) | 0);
    const merged: Array<[number, number]> = [];
    for (const r of this.ranges) {
      const last = merged[merged.length - 1];
      if (last && seqLe(r[0], last[1])) last[1] = seqMax(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.ranges = merged;
  }

  /** The cumulative ACK moved to `una`: what lies before it is no longer the scoreboard's. */
  ackedTo(una: number): void {
    while (this.ranges.length > 0 && seqLe(this.ranges[0]![1], una)) this.ranges.shift();
    const first = this.ranges[0];
    if (first && seqLt(first[0], una)) first[0] = una;
  }

  clear(): void {
    this.ranges = [];
  }

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /** The end of the highest SACKed range, or null. */
  get highest(): number | null {
    return this.ranges.length > 0 ? this.ranges[this.ranges.length - 1]![1] : null;
  }

  get sackedBytes(): number {
    let n = 0;
    for (const [s, e] of this.ranges) n += seqDiff(e, s);
    return n;
  }

  /** Whether `seq` is SACKed; if so, where its range ends. */
  sackedUntil(seq: number): number | null {
    for (const [s, e] of this.ranges) if (seqLe(s, seq) && seqLt(seq, e)) return e;
    return null;
  }

  /** The first range not SACKed that starts at or after `from` and lies below the highest SACKed byte. */
  hole(from: number): SeqRange | null {
    let at = from;
    for (const [s, e] of this.ranges) {
      if (seqLe(e, at)) continue;
      if (seqLt(at, s)) return [at, s];
      at = e;
    }
    return null;
  }
}
