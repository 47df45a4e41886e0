// A minimal passive TCP endpoint for the simulated guest (RFC 793 subset), enough for the
// kernel's TCP in a network namespace to be a real peer: listen on a port, accept connections
// (SYN → SYN-ACK with an MSS option, and window scale and SACK-permitted if offered), receive
// a stream in order and acknowledge it (one ACK per batch of segments; data beyond a hole is
// kept, and without SACK answered at once with a duplicate ACK), send a stream within the
// peer's window with simple retransmission (go-back-N on a timeout that doubles, fast
// retransmit on three duplicate ACKs), and close both ways with FIN.
//
// SACK (RFC 2018) when the peer's SYN permits it: our ACKs report the blocks held beyond a hole
// (tcp-sack.ts), and on loss we resend only the holes the peer's SACK blocks leave (a simple
// scoreboard, recovery until everything sent before the loss is acknowledged), so one lost
// 64 KiB GSO segment costs one segment, not the window. A timeout still goes back to sndUna.
//
// Window scaling (RFC 7323) when the peer's SYN offers it: our SYN-ACK answers with RCV_WSCALE
// and every later window we advertise is RCV_BUFFER, scaled; what we send is bounded by the
// peer's window shifted by its scale. Without the option, both windows are plain 16-bit ones.
//
// Closing follows RFC 793's states. The side that sends FIN first ends in TIME_WAIT for
// TIME_WAIT_MS (reported closed once its ACK of the peer's FIN is with the link),
// re-acknowledging a retransmitted FIN (our last ACK may have been lost) and dropping anything
// else; the side that closes second (LAST_ACK) is CLOSED once its FIN is acknowledged but
// lingers as long, silently dropping late duplicates. Either way a segment the
// network delayed past the close meets no RST, which the peer would count as an aborted
// connection. A new SYN on the same ports ends the lingering one at once (RFC 1122 4.2.2.13).
//
// With GSO (the endpoint's `gso`, on by default, and the link's feature-gso-tcpv4) it sends as
// Linux does with TSO: segments of up to 64 KiB with gso_size = the peer's MSS and a partial
// checksum, for the backend's side to cut into MSS-sized frames and finish. Received segments
// may be as large (the backend's GSO), their checksums already vouched for by the backend.
// A segment the link refuses (tx ring full) is not a loss: data is sent again, and an ACK is
// owed, when the link says it has room (or after a millisecond).
//
//   LISTEN ─SYN/SYN-ACK─► SYN_RCVD ─ACK─► ESTABLISHED
//     ESTABLISHED ─peer FIN─► CLOSE_WAIT ─our FIN─► LAST_ACK ─ACKed─► CLOSED (lingering)
//     ESTABLISHED ─our FIN─► FIN_WAIT_1 ─ACKed─► FIN_WAIT_2 ─peer FIN─► TIME_WAIT ─TIME_WAIT_MS─► gone
//                            FIN_WAIT_1 ─peer FIN─► CLOSING ─ACKed─► TIME_WAIT
//   any state before TIME_WAIT ─RST─► CLOSED (gone at once)
//
// This file is one connection; tcp-endpoint.ts holds the listening ports and the connections
// (lingering ones too) and answers segments for no connection with RST.

import { XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_MAX_TX_SIZE } from '../protocol/netif.js';
import { IPPROTO_TCP, formatIpv4, type Ipv4, type Mac } from './packet.js';
import type { LinkSendOptions, NetStack } from './stack.js';
import { Reassembly, SackScoreboard } from './tcp-sack.js';
import { SendQueue } from './tcp-send-queue.js';
import {
  ACK, FIN, HLEN, PSH, RST, sackOption, seqAdd, seqDiff, seqLe, seqLt, seqMax, SYN, synOptions, type Segment,
} from './tcp-segment.js';
import { l4Checksum, l4PartialChecksum } from './transport.js';

const NO_OPTIONS = new Uint8Array(0);
/** The most a window field says unscaled, and what we offer a peer without window scaling. */
const UNSCALED_WINDOW = 0xffff;
/**
 * With window scaling (RFC 7323), the receive window we offer: enough for ~10 Gbit/s over a
 * few milliseconds of round trip. In-order data goes straight to onData, so only data beyond a
 * hole is ever held, and that is bounded by the window.
 */
const RCV_BUFFER = 4 * 1024 * 1024;
/** The shift that makes RCV_BUFFER fit the 16-bit window field. */
const RCV_WSCALE = 7;
/** What we accept per segment and offer in SYN-ACK: an Ethernet MTU's worth. */
const OUR_MSS = 1460;
const DEFAULT_MSS = 536;
const RTO_MIN_MS = 200;
const RTO_MAX_MS = 3000;
/**
 * 2*MSL. RFC 793's two minutes guard against segments wandering a large internet; the guest's
 * peer is one hop away, so a late segment is the peer's own retransmission, which comes within
 * its RTO (200 ms at least, doubling): two seconds covers the first few of those.
 */
export const TIME_WAIT_MS = 2000;
/** Gives up on a connection after this many timeouts in a row. */
const MAX_RETRIES = 12;
/** The most payload one GSO segment carries: the largest tx packet less Ethernet, IPv4 and TCP headers. */
const GSO_MAX_PAYLOAD = XEN_NETIF_MAX_TX_SIZE - 14 - 20 - HLEN;

export type TcpState = 'SYN_RCVD' | 'ESTABLISHED' | 'CLOSE_WAIT' | 'LAST_ACK' | 'FIN_WAIT_1' | 'FIN_WAIT_2' | 'CLOSING'
  | 'TIME_WAIT' | 'CLOSED';

/** States in which our stream (data, then FIN) may still need sending or resending. */
const SENDING: ReadonlySet<TcpState> = new Set<TcpState>(['ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'FIN_WAIT_1', 'CLOSING']);

export interface TcpStats {
  bytesIn: number;
  bytesOut: number;
  segmentsIn: number;
  segmentsOut: number;
  retransmits: number;
  outOfOrder: number;
}

/** Endpoint-wide settings, read as they are at each use. */
export interface TcpConfig {
  /** Send with GSO and partial checksums when the link has them. */
  readonly gso: boolean;
  /** How long a closed connection holds its ports (TIME_WAIT_MS unless a test shortens it). */
  readonly timeWaitMs: number;
}

export class TcpConnection {
  state: TcpState = 'SYN_RCVD';
  readonly stats: TcpStats = { bytesIn: 0, bytesOut: 0, segmentsIn: 0, segmentsOut: 0, retransmits: 0, outOfOrder: 0 };
  /** In-order stream bytes as they arrive, lent for the call (they are the received frame's): copy to keep. */
  onData: ((data: Uint8Array) => void) | null = null;
  /** The peer sent FIN: no more data will come. */
  onEnd: (() => void) | null = null;
  /** Closed both ways (or reset, with the reason). */
  onClose: ((error: string | null) => void) | null = null;

  private readonly iss = (Math.random() * 2 ** 32) >>> 0;
  private sndUna = this.iss;
  private sndNxt = this.iss;
  /** The highest sequence number sent so far: go-back-N rewinds sndNxt, and ACKs up to this are still good. */
  private sndMax = this.iss;
  /** Unacknowledged and unsent stream bytes; the first has sequence number pendingSeq. */
  private readonly pending = new SendQueue();
  private pendingSeq = (this.iss + 1) >>> 0;
  private rcvNxt: number;
  /** The peer's window in bytes, its scale applied. */
  private peerWindow = 0;
  /** The peer's window scale (RFC 7323), 0 unless both SYNs carried the option. */
  private readonly sndShift: number;
  /** Ours, likewise. */
  private readonly rcvShift: number;
  /** The receive window we offer, in bytes. */
  private readonly rcvWindow: number;
  private readonly mss: number;
  private ending = false;
  /** Where our FIN goes (the end of the stream), once end() is called. */
  private finSeq: number | null = null;
  private finReceived = false;
  /** Holds a closed connection's ports (TIME_WAIT, or CLOSED after LAST_ACK) so late segments meet no RST. */
  private lingerTimer: NodeJS.Timeout | null = null;
  private rto = RTO_MIN_MS;
  private retries = 0;
  private timer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private dupAcks = 0;
  private ackScheduled = false;
  /** An ACK the link refused (ring full): sent again with the next retry, not left to the peer's timeout. */
  private ackOwed = false;
  /** Entered TIME_WAIT with the ACK of the peer's FIN still owed: the close is reported once it is out. */
  private closeAfterAck = false;
  /** Both SYNs said SACK-permitted (RFC 2018). */
  private readonly sackOk: boolean;
  /** Data received beyond a hole, until the hole is filled; with SACK, reported in every ACK. */
  private readonly reassembly = new Reassembly();
  /** What the peer SACKed beyond sndUna. */
  private readonly scoreboard = new SackScoreboard();
  /** In SACK recovery (RFC 6675, simplified) until everything sent before it began is acknowledged. */
  private recovering = false;
  private recoveryPoint = 0;
  /** Holes below this have been resent in this recovery. */
  private rexmitNext = 0;

  constructor(private readonly stack: NetStack, readonly remoteIp: Ipv4, private readonly remoteMac: Mac,
    readonly remotePort: number, readonly localPort: number, syn: Segment, private readonly gone: () => void,
    private readonly config: TcpConfig = { gso: false, timeWaitMs: TIME_WAIT_MS }) {
    this.rcvNxt = (syn.seq + 1) >>> 0;
    // A SYN's window is never scaled.
    this.peerWindow = syn.window;
    const scaled = syn.wscale !== null;
    this.sndShift = scaled ? syn.wscale! : 0;
    this.rcvShift = scaled ? RCV_WSCALE : 0;
    this.rcvWindow = scaled ? RCV_BUFFER : UNSCALED_WINDOW;
    this.mss = Math.min(OUR_MSS, syn.mss ?? DEFAULT_MSS);
    this.sackOk = syn.sackPermitted;
    this.sendSyn();
  }

  get remote(): string {
    return `${formatIpv4(this.remoteIp)}:${this.remotePort}`;
  }

  /**
   * Queues stream bytes for sending. They are not copied: like Node's socket.write, the caller
   * leaves them unchanged until they are acknowledged (the connection lets go of them then).
   */
  write(data: Uint8Array): void {
    if (this.ending || !SENDING.has(this.state) && this.state !== 'SYN_RCVD') {
      throw new Error(`tcp ${this.remote}: write after end (state ${this.state})`);
    }
    this.pending.push(data);
    this.pump();
  }

  /** Sends FIN once everything written has been sent. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.finSeq = (this.pendingSeq + this.pending.length) >>> 0;
    this.pump();
  }

  /** Aborts with RST; a connection that is already closed just lets go of its ports. */
  abort(): void {
    if (this.lingering) return this.release();
    if (this.state === 'CLOSED') return;
    this.send(RST | ACK, this.sndNxt);
    this.finish('aborted');
  }

  /** Closed, but holding its ports against late segments. */
  get lingering(): boolean {
    return this.lingerTimer !== null;
  }

  /** RFC 1122 4.2.2.13: a new SYN beyond everything the old connection received may reuse its ports. */
  supersededBy(syn: Segment): boolean {
    return this.lingering && seqLt(this.rcvNxt, syn.seq);
  }

  /** The inbound path: one segment for this connection. */
  receive(seg: Segment): void {
    // Closed (lingering after LAST_ACK, or reset): a late duplicate, dropped without a word.
    if (this.state === 'CLOSED') return;
    this.stats.segmentsIn++;
    if (this.state === 'TIME_WAIT') return this.inTimeWait(seg);
    if (seg.flags & RST) return this.finish('connection reset by peer');
    if (seg.flags & SYN) {
      // A retransmitted SYN: our SYN-ACK was lost.
      if (this.state === 'SYN_RCVD' && seg.seq === ((this.rcvNxt - 1) >>> 0)) this.sendSyn();
      return;
    }
    if (!(seg.flags & ACK)) return;
    this.peerWindow = seg.window * 2 ** this.sndShift;
    this.onAck(seg);
    // onAck may have ended the connection (TS cannot see that through the call).
    if ((this.state as TcpState) === 'CLOSED') return;
    this.onPayload(seg);
    this.pump();
  }

  /**
   * RFC 793's TIME_WAIT: the peer's retransmitted FIN means our ACK of it was lost, so it is
   * acknowledged again and the wait starts over; an RST is ignored (RFC 1337, no TIME_WAIT
   * assassination); anything else is a late duplicate and dropped.
   */
  private inTimeWait(seg: Segment): void {
    if (seg.flags & RST || !(seg.flags & FIN)) return;
    this.sendAck();
    this.linger();
  }

  private onAck(seg: Segment): void {
    const ack = seg.ack;
    const advances = seqLt(this.sndUna, ack) && seqLe(ack, this.sndMax);
    if (this.sackOk && seg.sack) this.scoreboard.update(seg.sack, advances ? ack : this.sndUna, this.sndMax);
    if (advances) {
      if (this.state === 'SYN_RCVD') this.state = 'ESTABLISHED';
      // Drop acknowledged bytes (the SYN and the FIN occupy a sequence number but no byte).
      const dataAcked = Math.min(this.pending.length, Math.max(0, (ack - this.pendingSeq) | 0));
      if (dataAcked > 0) {
        this.pending.drop(dataAcked);
        this.pendingSeq = (this.pendingSeq + dataAcked) >>> 0;
      }
      this.sndUna = ack;
      // After a go-back, an ACK for what the first pass delivered skips its resending.
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      this.scoreboard.ackedTo(ack);
      this.dupAcks = 0;
      this.rto = RTO_MIN_MS;
      this.retries = 0;
      this.restartTimer();
      if (this.recovering) {
        // A partial ACK: the next hole is now at sndUna; a full one ends the recovery.
        if (seqLt(ack, this.recoveryPoint)) this.resendHoles();
        else this.recovering = false;
      }
      if (this.finSeq !== null && seqLt(this.finSeq, ack)) this.ourFinAcked();
      return;
    }
    const pure = seg.payload.length === 0 && !(seg.flags & FIN);
    if (ack !== this.sndUna || !pure || this.sndMax === this.sndUna) return;
    this.dupAcks++;
    // Each duplicate may SACK more: the holes it shows are resent as they appear.
    if (this.recovering) return this.resendHoles();
    // Three duplicates (RFC 5681), or as much SACKed as three segments would be (RFC 6675's
    // DupThresh): a peer cutting our 64 KiB GSO segments may send fewer ACKs than segments.
    if (this.dupAcks >= 3 || this.scoreboard.sackedBytes >= 3 * this.mss) this.fastRetransmit();
  }

  /** Loss: with SACK only the holes are resent, without it everything from sndUna on. */
  private fastRetransmit(): void {
    this.stats.retransmits++;
    if (!this.sackOk) return this.goBack();
    this.recovering = true;
    this.recoveryPoint = this.sndMax;
    this.rexmitNext = this.sndUna;
    this.resendHoles();
    this.restartTimer();
  }

  /**
   * Resends the holes between sndUna and the highest SACKed byte not yet resent in this
   * recovery; with nothing SACKed, the one segment at sndUna. A lost resend is left to the
   * retransmission timeout.
   */
  private resendHoles(): void {
    const most = this.segmentMax();
    const dataEnd = seqAdd(this.pendingSeq, this.pending.length);
    const top = this.scoreboard.highest ?? seqAdd(this.sndUna, Math.min(most, seqDiff(this.sndMax, this.sndUna)));
    let from = seqMax(this.rexmitNext, this.sndUna);
    while (seqLt(from, top)) {
      const hole = this.scoreboard.hole(from) ?? (this.scoreboard.empty ? [from, top] as const : null);
      if (!hole) break;
      const len = Math.min(most, seqDiff(hole[1], hole[0]), seqDiff(dataEnd, hole[0]));
      // Only the FIN is missing: the timeout resends it.
      if (len <= 0) break;
      if (!this.sendData(hole[0], len)) return this.retrySoon();
      this.stats.retransmits++;
      from = seqAdd(hole[0], len);
      this.rexmitNext = from;
    }
  }

  private onPayload(seg: Segment): void {
    let data = seg.payload;
    let seq = seg.seq;
    const fin = (seg.flags & FIN) !== 0;
    if (data.length === 0 && !fin) return;
    if (seqLt(seq, this.rcvNxt)) {
      // A retransmission overlapping what we have: keep only the new part.
      const skip = (this.rcvNxt - seq) >>> 0;
      if (skip > data.length || (skip === data.length && !fin)) return this.scheduleAck();
      data = data.subarray(skip);
      seq = this.rcvNxt;
    }
    if (this.finReceived) return this.scheduleAck();
    if (seq !== this.rcvNxt) {
      // A hole: keep the segment (within our window) for when the hole is filled. Without SACK
      // a duplicate ACK goes at once, so the peer's fast retransmit (three duplicates) fires
      // instead of its timeout (RFC 5681 §4.2). With SACK one ACK for the batch says as much,
      // its blocks showing the peer what is missing; and the namespace kernel reorders a
      // flow's frames into the tap (its transmit path takes no lock), so a hole is mostly
      // filled a few frames later in the same batch: an ACK per such frame was thousands of
      // needless ACKs a second, each telling the sender of a loss that was not one.
      this.stats.outOfOrder++;
      if (seqDiff(seq, this.rcvNxt) + data.length <= this.rcvWindow) this.reassembly.add(seq, data, fin);
      if (this.sackOk) this.scheduleAck();
      else this.sendAck();
      return;
    }
    this.deliver(data, fin);
    // The hole is filled: whatever was kept follows in order.
    for (let next = this.reassembly.next(this.rcvNxt); next && !this.finReceived; next = this.reassembly.next(this.rcvNxt)) {
      this.deliver(next.data, next.fin);
    }
    if (this.finReceived) this.reassembly.clear();
    this.scheduleAck();
  }

  /** An ACK now, with SACK blocks for what is held beyond a hole. */
  private sendAck(): void {
    const options = this.sackOk && !this.reassembly.empty ? sackOption(this.reassembly.blocks()) : NO_OPTIONS;
    if (this.send(ACK, this.sndNxt, 0, options)) return;
    // Every segment carries the ACK, so any later one pays this debt too.
    this.ackOwed = true;
    this.retrySoon();
  }

  private deliver(data: Uint8Array, fin: boolean): void {
    if (data.length > 0) {
      this.rcvNxt = (this.rcvNxt + data.length) >>> 0;
      this.stats.bytesIn += data.length;
      this.onData?.(data);
    }
    if (fin) {
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.finReceived = true;
      if (this.state === 'FIN_WAIT_2') this.enterTimeWait();
      else this.state = this.state === 'FIN_WAIT_1' ? 'CLOSING' : 'CLOSE_WAIT';
      this.onEnd?.();
    }
  }

  private ourFinAcked(): void {
    if (this.state === 'FIN_WAIT_1') this.state = 'FIN_WAIT_2';
    else if (this.state === 'CLOSING') this.enterTimeWait();
    else if (this.state === 'LAST_ACK') {
      this.stopTimers();
      this.state = 'CLOSED';
      this.linger();
      this.onClose?.(null);
    }
  }

  /**
   * The peer's FIN is acknowledged at once, not with the batch's ACK, and the close reported
   * only once that ACK is with the link: an owner told of the close may take the guest away,
   * and a FIN left unacknowledged would be retransmitted to whoever has the address next.
   */
  private enterTimeWait(): void {
    this.stopTimers();
    this.state = 'TIME_WAIT';
    this.linger();
    this.sendAck();
    if (this.ackOwed) this.closeAfterAck = true;
    else this.onClose?.(null);
  }

  /** (Re)starts the wait after which a closed connection's ports are free again. */
  private linger(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = setTimeout(() => this.release(), this.config.timeWaitMs);
    // A closed connection's wait keeps nothing running.
    this.lingerTimer.unref();
  }

  /** One ACK for a batch of segments received in the same turn. */
  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      // In TIME_WAIT the FIN was acknowledged on arrival (or is owed and retried).
      if (this.state !== 'CLOSED' && this.state !== 'TIME_WAIT') this.sendAck();
    });
  }

  /** Sends what the peer's window allows, then FIN when the stream is done. */
  private pump(): void {
    if (!SENDING.has(this.state)) return;
    const end = (this.pendingSeq + this.pending.length) >>> 0;
    const limit = (this.sndUna + this.peerWindow) >>> 0;
    const most = this.segmentMax();
    if (this.recovering) this.resendHoles();
    while (seqLt(this.sndNxt, end) && seqLt(this.sndNxt, limit)) {
      const len = Math.min(most, (end - this.sndNxt) >>> 0, (limit - this.sndNxt) >>> 0);
      if (!this.sendData(this.sndNxt, len)) return this.retrySoon();
      this.advance(len);
    }
    if (this.finSeq !== null && this.sndNxt === this.finSeq) {
      if (!this.send(FIN | ACK, this.sndNxt)) return this.retrySoon();
      this.advance(1);
      if (this.state === 'ESTABLISHED') this.state = 'FIN_WAIT_1';
      else if (this.state === 'CLOSE_WAIT') this.state = 'LAST_ACK';
    }
    if (this.sndNxt !== this.sndUna && !this.timer) this.restartTimer();
  }

  /** The most payload one segment carries: a GSO segment's worth of whole MSS, or one MSS. */
  private segmentMax(): number {
    return this.gso() ? Math.floor(GSO_MAX_PAYLOAD / this.mss) * this.mss : this.mss;
  }

  /** Stream bytes [seq, seq + len) as one segment (GSO when the link has it). */
  private sendData(seq: number, len: number): boolean {
    if (!this.send(ACK | PSH, seq, len, NO_OPTIONS, this.gso())) return false;
    this.stats.bytesOut += len;
    return true;
  }

  private advance(n: number): void {
    this.sndNxt = (this.sndNxt + n) >>> 0;
    if (seqLt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
  }

  /** The link has room again: a send it refused is tried now instead of on the timer. */
  linkWritable(): void {
    if (!this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retry();
  }

  /** What the link refused: an owed ACK, then whatever the stream has to send. */
  private retry(): void {
    if (this.ackOwed) this.sendAck();
    if (this.closeAfterAck && !this.ackOwed) {
      this.closeAfterAck = false;
      this.onClose?.(null);
    }
    this.pump();
  }

  /**
   * The ring was full: try again when the link says it has room (linkWritable), or shortly
   * (a link that never says so), without counting it as a loss.
   */
  private retrySoon(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retry();
    }, 1);
    if (!this.timer) this.restartTimer();
  }

  private restartTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.sndMax === this.sndUna || !SENDING.has(this.state) && this.state !== 'SYN_RCVD') return;
    this.timer = setTimeout(() => this.onTimeout(), this.rto);
  }

  private onTimeout(): void {
    this.timer = null;
    if (!SENDING.has(this.state) && this.state !== 'SYN_RCVD') return;
    if (++this.retries > MAX_RETRIES) return this.abortTimedOut();
    this.stats.retransmits++;
    this.rto = Math.min(this.rto * 2, RTO_MAX_MS);
    // RFC 2018 §8: after a timeout the peer's SACKs are not relied on (it may have dropped
    // what it reported), so everything from sndUna goes again.
    this.recovering = false;
    this.scoreboard.clear();
    if (this.state === 'SYN_RCVD') {
      this.sendSyn();
      this.restartTimer();
      return;
    }
    this.goBack();
  }

  private abortTimedOut(): void {
    this.send(RST | ACK, this.sndNxt);
    this.finish('connection timed out');
  }

  /** Go-back-N: resend from the first unacknowledged byte (and the FIN again if it is lost). */
  private goBack(): void {
    this.sndNxt = this.sndUna;
    this.pump();
    this.restartTimer();
  }

  private sendSyn(): void {
    this.sndNxt = this.sndMax = (this.iss + 1) >>> 0;
    const opt = synOptions(OUR_MSS, this.rcvShift > 0 ? this.rcvShift : null, this.sackOk);
    this.send(SYN | ACK, this.iss, 0, opt);
    if (!this.timer) this.restartTimer();
  }

  /** GSO now: wanted by the endpoint and available on the link (it may come and go with reconnects). */
  private gso(): boolean {
    return this.config.gso && this.stack.gsoAvailable(XEN_NETIF_GSO_TYPE_TCPV4);
  }

  /**
   * One segment. With `offload` its checksum is left partial (the pseudo-header sum only) and
   * a payload over the MSS goes as one GSO packet.
   */
  /** One segment, its `payloadLength` bytes from the send queue at `seq`. */
  private send(flags: number, seq: number, payloadLength = 0, options: Uint8Array = NO_OPTIONS, offload = false): boolean {
    const hlen = HLEN + options.length;
    let link: LinkSendOptions | undefined;
    if (offload) {
      link = { csumBlank: true };
      if (payloadLength > this.mss) link.gso = { size: this.mss, type: XEN_NETIF_GSO_TYPE_TCPV4 };
    }
    // Written straight into the frame the stack sends (its buffer is reused: every byte is set).
    const ok = this.stack.sendIpv4Built(this.remoteMac, this.remoteIp, IPPROTO_TCP, hlen + payloadLength, (seg) => {
      const v = new DataView(seg.buffer, seg.byteOffset, seg.length);
      v.setUint16(0, this.localPort);
      v.setUint16(2, this.remotePort);
      v.setUint32(4, seq >>> 0);
      v.setUint32(8, flags & ACK ? this.rcvNxt : 0);
      seg[12] = (hlen / 4) << 4;
      seg[13] = flags;
      // The window in a SYN-ACK is never scaled (RFC 7323 §2.2).
      v.setUint16(14, flags & SYN ? Math.min(this.rcvWindow, UNSCALED_WINDOW) : Math.min(this.rcvWindow >>> this.rcvShift, UNSCALED_WINDOW));
      v.setUint32(16, 0);
      seg.set(options, HLEN);
      if (payloadLength > 0) this.pending.copyTo(seg, hlen, seqDiff(seq, this.pendingSeq), payloadLength);
      v.setUint16(16, offload ? l4PartialChecksum(this.stack.address, this.remoteIp, IPPROTO_TCP, seg.length)
        : l4Checksum(this.stack.address, this.remoteIp, IPPROTO_TCP, seg));
    }, link);
    if (ok) this.stats.segmentsOut++;
    if (ok && flags & ACK) this.ackOwed = false;
    return ok;
  }

  private stopTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = null;
    this.retryTimer = null;
  }

  /** Ends the connection at once (reset, abort, timeout), freeing its ports. */
  private finish(error: string | null): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    this.stopTimers();
    this.gone();
    this.onClose?.(error);
  }

  /** The wait after a close is over (or cut short): the ports are free. */
  private release(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.stopTimers();
    this.state = 'CLOSED';
    this.gone();
    if (this.closeAfterAck) {
      // The ACK never got out; the wait is over all the same.
      this.closeAfterAck = false;
      this.onClose?.(null);
    }
  }
}
