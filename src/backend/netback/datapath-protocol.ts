// What the main thread and a datapath thread say to each other: synchronous calls one way
// (sync-call.ts), events the other way, and the data each carries. Everything is structured-
// cloneable; shared memory (guest memory, grant entries, counters, doorbells) goes as
// SharedArrayBuffers, so both threads see the same bytes.

import type { MessagePort } from 'node:worker_threads';
import type { LogLevel } from '../../common/log.js';
import type { SharedGrantTable } from '../../xen/emulated/grant-table.js';
import type { LentTap } from '../net/net-client.js';
import type { DatapathStart } from './vif-datapath.js';

export interface DatapathWorkerData {
  name: string;
  logLevel: LogLevel;
  requests: MessagePort;
  replies: MessagePort;
  events: MessagePort;
  replyFlag: SharedArrayBuffer;
  /** Ports the main thread raises for the datapath (the frontends' sends). */
  inbound: SharedArrayBuffer;
  /** Ports the datapath raises (its sends to the frontends). */
  outbound: SharedArrayBuffer;
}

export interface CreateArgs {
  vif: number;
  name: string;
  backend: number;
  frontend: number;
  tap: LentTap | null;
  stats: SharedArrayBuffer;
  linkUp: boolean;
}

export interface StartArgs extends DatapathStart {
  vif: number;
  grants: SharedGrantTable;
}

export type DatapathEvent =
  | { kind: 'ready' }
  | { kind: 'fatal'; vif: number; message: string }
  | { kind: 'log'; line: string };
