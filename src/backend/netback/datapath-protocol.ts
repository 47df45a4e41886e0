// What the main thread and a datapath thread say to each other: synchronous calls one way
// (sync-call.ts), typed by DatapathOps, events the other way, and the data each carries.
// Everything is structured-cloneable; shared memory (counters, and whatever the platform's
// handoff holds) goes as SharedArrayBuffers, so both threads see the same bytes.

import type { MessagePort } from 'node:worker_threads';
import type { LogLevel } from '../../common/log.js';
import type { Handoff } from '../../xen/backend-ops.js';
import type { LentTap } from '../net/net-client.js';
import type { QueueInfo } from './queue.js';
import type { TxRate } from './tx-credit.js';
import type { CaptureInfo, DatapathStart } from './vif-datapath.js';

export interface DatapathWorkerData {
  name: string;
  logLevel: LogLevel;
  requests: MessagePort;
  replies: MessagePort;
  events: MessagePort;
  replyFlag: SharedArrayBuffer;
  /** The platform's ThreadLink handoff: the thread makes its DatapathPlatform from it. */
  platform: Handoff;
}

/** Names one vif datapath on the thread. */
export interface VifRef { vif: number }

export interface CreateArgs extends VifRef {
  name: string;
  frontend: number;
  tap: LentTap | null;
  stats: SharedArrayBuffer;
  linkUp: boolean;
}

export type StartArgs = VifRef & DatapathStart;

/**
 * Every control operation a datapath thread serves (datapath-worker.ts) and the main thread
 * calls (datapath-thread.ts): its arguments and its result. A type alias, not an interface, so
 * that it has no index signature: calling or serving an operation it lacks does not compile.
 */
export type DatapathOps = {
  create: { args: CreateArgs; result: void };
  start: { args: StartArgs; result: void };
  stop: { args: VifRef; result: void };
  kick: { args: VifRef; result: void };
  ringInfo: { args: VifRef; result: QueueInfo[] | null };
  setLink: { args: VifRef & { up: boolean }; result: void };
  setRate: { args: VifRef & { rate: TxRate }; result: void };
  setMulticastControl: { args: VifRef & { on: boolean }; result: void };
  setConnected: { args: VifRef & { connected: boolean }; result: void };
  startCapture: { args: VifRef & { path: string; snaplen?: number }; result: void };
  stopCapture: { args: VifRef; result: number | null };
  captureInfo: { args: VifRef; result: CaptureInfo | null };
  destroy: { args: VifRef; result: void };
};

export type DatapathEvent =
  | { kind: 'ready' }
  | { kind: 'fatal'; vif: number; message: string }
  | { kind: 'log'; line: string };
