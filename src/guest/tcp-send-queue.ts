// The guest's TCP send buffer (tcp.ts): the stream bytes written but not yet acknowledged, kept
// as the chunks write() was given, not copied (as Node's socket.write keeps its buffers), so a
// large write costs no copy before the one into each outgoing frame, and many small writes
// (the echo service's) no growing concatenation.

export class SendQueue {
  private chunks: Uint8Array[] = [];
  /** Index of the first chunk still held, and how much of it is already acknowledged. */
  private head = 0;
  private headSkip = 0;
  /** Where the last copy ended, to start the next one there without walking from the head. */
  private cursorChunk = 0;
  /** May be negative: the cursor's chunk starts before the first held byte. */
  private cursorOffset = 0;
  /** Bytes held, from the first unacknowledged one. */
  length = 0;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
  }

  /** Lets go of the first `n` bytes (acknowledged). */
  drop(n: number): void {
    if (n > this.length) throw new RangeError(`send queue: dropping ${n} of ${this.length} bytes held`);
    this.length -= n;
    let left = n + this.headSkip;
    while (this.head < this.chunks.length && left >= this.chunks[this.head]!.length) {
      left -= this.chunks[this.head]!.length;
      this.head++;
    }
    this.headSkip = left;
    // Compacted now and then, so the array does not grow with the stream.
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    // Offsets count from the first held byte, which just moved.
    this.cursorChunk = this.head;
    this.cursorOffset = -this.headSkip;
  }

  /** Copies bytes [from, from + len) of those held into `dst` at `at`. */
  copyTo(dst: Uint8Array, at: number, from: number, len: number): void {
    if (from + len > this.length) throw new RangeError(`send queue: bytes ${from}..${from + len} of ${this.length} held`);
    // Chunk and the stream offset (from the first held byte) where it starts.
    let i = this.head;
    let start = -this.headSkip;
    if (this.cursorChunk >= this.head && this.cursorChunk < this.chunks.length && this.cursorOffset <= from) {
      i = this.cursorChunk;
      start = this.cursorOffset;
    }
    while (start + this.chunks[i]!.length <= from) start += this.chunks[i++]!.length;
    this.cursorChunk = i;
    this.cursorOffset = start;
    let done = 0;
    while (done < len) {
      const c = this.chunks[i]!;
      const off = from + done - start;
      const n = Math.min(c.length - off, len - done);
      dst.set(n === c.length ? c : c.subarray(off, off + n), at + done);
      done += n;
      start += c.length;
      i++;
    }
  }
}
