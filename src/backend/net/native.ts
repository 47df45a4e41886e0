// The native addon's tap, socket and poll calls, as the backend's network layer uses them.

import { loadNativeAddon } from '../../common/native-addon.js';

export interface TapHandle { fd: number; ifname: string }

export interface NativeAddon {
  tapOpen(name: string, vnetHdr: boolean): TapHandle;
  /** Bytes read, or -errno (-11 EAGAIN when nothing is pending). */
  tapRead(fd: number, buf: Uint8Array): number;
  /** Bytes written, or -errno. */
  tapWrite(fd: number, buf: Uint8Array): number;
  /**
   * Writes `count` frames, frame i being `head` then memory[offsets[i], offsets[i] + lengths[i]),
   * in order, with writev() from where it lies (no copy before the kernel's), and stops at the
   * first that fails, leaving its errno in status[0] (0 when all went). Returns how many were
   * written.
   */
  tapWriteGather(fd: number, head: Uint8Array, memory: Uint8Array, offsets: Uint32Array, lengths: Uint32Array,
    count: number, status: Int32Array): number;
  /** An io_uring of `entries` submissions, or null when the kernel refuses io_uring. */
  uringOpen(entries: number): unknown;
  /** Idempotent. */
  uringClose(ring: unknown): void;
  /**
   * As tapWriteGather, but submitted at once through `ring` (one system call for the batch):
   * every frame is written, errnos[i] being frame i's errno or 0. Returns how many went.
   */
  uringWriteGather(ring: unknown, fd: number, head: Uint8Array, memory: Uint8Array, offsets: Uint32Array,
    lengths: Uint32Array, count: number, errnos: Int32Array): number;
  /**
   * Reads frames into `buf`, each from the next multiple of FRAME_ALIGN bytes (at most
   * lengths.length, and only while `frameCap` bytes still fit): how many, or -errno when the
   * first read failed (-EAGAIN: none pending).
   */
  tapReadBatch(fd: number, buf: Uint8Array, lengths: Uint32Array, frameCap: number): number;
  /**
   * A readability watch that reads each wake-up's frames itself, as tapReadBatch, and calls
   * back once with how many are in `buf` and the errno of a read that failed (0 if none).
   */
  tapPollBatch(fd: number, buf: Uint8Array, lengths: Uint32Array, frameCap: number,
    onFrames: (count: number, errno: number) => void): unknown;
  close(fd: number): void;
  linkSetUp(ifname: string, up: boolean): void;
  pollStart(fd: number, onReadable: (status: number) => void): unknown;
  pollStop(handle: unknown): void;
  /** TUNSETCARRIER: the tap's carrier on or off. */
  tapSetCarrier(fd: number, on: boolean): void;
  /** TUNSETOFFLOAD: which TUN_F_* frames (partial checksum, GSO) the kernel may hand this tap. */
  tapSetOffload(fd: number, flags: number): void;
  /** A non-blocking AF_UNIX datagram socket, bound to `localPath` when given. */
  unixDgramOpen(localPath: string | null): number;
  /** Bytes sent, or -errno. */
  unixDgramSend(fd: number, remotePath: string, buf: Uint8Array): number;
}

export const EAGAIN = 11;

/** Frames read in a batch start on multiples of this (see tapReadBatch). */
export const FRAME_ALIGN = 8;

/** Where the frame after one of `len` bytes at `at` starts in a read batch. */
export function nextFrameAt(at: number, len: number): number {
  return (at + len + FRAME_ALIGN - 1) & -FRAME_ALIGN;
}

/** TUNSETOFFLOAD flags (linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;

/** The addon, typed as this layer uses it. */
export function native(): NativeAddon {
  return loadNativeAddon() as NativeAddon;
}
