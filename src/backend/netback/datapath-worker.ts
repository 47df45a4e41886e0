// The entry of a datapath thread (datapath-thread.ts): vif datapaths built from what the main
// thread hands over, on the platform as this thread sees it (attachDatapath: grant copies,
// upcalls and notifies happen here), their taps read and written here. It never waits for the
// main thread.

import { workerData, type MessagePort } from 'node:worker_threads';
import { Logger, setLogLevel, setLogSink } from '../../common/log.js';
import { serveSyncCalls, type SyncHandlers } from '../../common/sync-call.js';
import { attachDatapath } from '../../xen/attach-datapath.js';
import { TapIo } from '../net/tap-io.js';
import { sharedCounters } from './counters.js';
import type { CreateArgs, DatapathEvent, DatapathOps, DatapathWorkerData, VifRef } from './datapath-protocol.js';
import { VifDatapath } from './vif-datapath.js';

const data = workerData as DatapathWorkerData;
const events: MessagePort = data.events;
const post = (e: DatapathEvent): void => events.postMessage(e);
setLogLevel(data.logLevel);
setLogSink((line) => post({ kind: 'log', line }));
const log = new Logger(`iothread ${data.name}`);

const dp = attachDatapath(data.platform, (err, port) => {
  log.error(`upcall on port ${port} failed: ${(err as Error).stack ?? String(err)}`);
});

interface Vif {
  datapath: VifDatapath;
  tap: TapIo | null;
}

const vifs = new Map<number, Vif>();

function vifOf(args: VifRef): Vif {
  const v = vifs.get(args.vif);
  if (!v) throw new Error(`no vif ${args.vif} on datapath thread ${data.name}`);
  return v;
}

function create(a: CreateArgs): void {
  const tap = a.tap ? new TapIo(a.tap.fd, a.tap.vnetHdr, new Logger(`tap ${a.tap.ifname}`)) : null;
  const datapath = new VifDatapath({
    dp, frontend: a.frontend, peer: tap, stats: sharedCounters(a.stats), log: new Logger(a.name), linkUp: a.linkUp,
    onFatal: (message) => post({ kind: 'fatal', vif: a.vif, message }),
  });
  vifs.set(a.vif, { datapath, tap });
}

const handlers: SyncHandlers<DatapathOps> = {
  create,
  start: (a) => vifOf(a).datapath.start(a),
  stop: (a) => vifOf(a).datapath.stop(),
  kick: (a) => vifOf(a).datapath.kick(),
  ringInfo: (a) => vifOf(a).datapath.ringInfo(),
  setLink: (a) => vifOf(a).datapath.setLink(a.up),
  setRate: (a) => vifOf(a).datapath.setRate(a.rate),
  setMulticastControl: (a) => vifOf(a).datapath.setMulticastControl(a.on),
  setConnected: (a) => vifOf(a).datapath.setConnected(a.connected),
  startCapture: (a) => vifOf(a).datapath.startCapture(a.path, a.snaplen),
  stopCapture: (a) => vifOf(a).datapath.stopCapture(),
  captureInfo: (a) => vifOf(a).datapath.captureInfo(),
  destroy: (a) => {
    const v = vifOf(a);
    v.datapath.close();
    v.tap?.stop();
    vifs.delete(a.vif);
  },
};

serveSyncCalls<DatapathOps>(data.requests, data.replies, data.replyFlag, handlers);
post({ kind: 'ready' });
