// The entry of a datapath thread (datapath-thread.ts): vif datapaths built from what the main
// thread hands over, their upcalls taken from the inbound doorbell, their sends rung on the
// outbound one, their taps read and written here. It never waits for the main thread.

import { workerData, type MessagePort } from 'node:worker_threads';
import { Logger, setLogLevel, setLogSink } from '../../common/log.js';
import { serveSyncCalls } from '../../common/sync-call.js';
import { Doorbell } from '../../xen/emulated/evtchn-doorbell.js';
import { GrantTable } from '../../xen/emulated/grant-table.js';
import { TapIo } from '../net/tap-io.js';
import { sharedCounters } from './counters.js';
import type { CreateArgs, DatapathEvent, DatapathWorkerData, StartArgs } from './datapath-protocol.js';
import type { DatapathHypervisor } from './queue.js';
import { VifDatapath } from './vif-datapath.js';

const data = workerData as DatapathWorkerData;
const events: MessagePort = data.events;
const post = (e: DatapathEvent): void => events.postMessage(e);
setLogLevel(data.logLevel);
setLogSink((line) => post({ kind: 'log', line }));
const log = new Logger(`iothread ${data.name}`);

/**
 * How long the thread watches for the next event after a pass before it sleeps: frontends
 * that keep sending then ring it for two atomic operations instead of a cross-thread wake-up
 * (netback's NAPI polling, in spirit).
 */
const SPIN_MICROS = 50;

const upcalls = new Map<number, (port: number) => void>();
const outbound = new Doorbell(data.outbound);
new Doorbell(data.inbound).listen((port) => {
  const upcall = upcalls.get(port);
  if (!upcall) return;
  try {
    upcall(port);
  } catch (err) {
    log.error(`upcall on port ${port} failed: ${(err as Error).stack ?? String(err)}`);
  }
}, SPIN_MICROS);

/** Event channels as a datapath sees them: its ports' upcalls, and sends to their peers. */
const evtchn: DatapathHypervisor['evtchn'] = {
  setHandler(_domid, port, handler) {
    if (handler) upcalls.set(port, handler);
    else upcalls.delete(port);
  },
  send(_domid, port) {
    outbound.ring(port);
  },
};

interface Vif {
  datapath: VifDatapath;
  tap: TapIo | null;
  /** The frontend's grant table, attached at each start (a domain may have come and gone). */
  grants: GrantTable | null;
}

const vifs = new Map<number, Vif>();

function vifOf(args: unknown): Vif {
  const id = (args as { vif: number }).vif;
  const v = vifs.get(id);
  if (!v) throw new Error(`no vif ${id} on datapath thread ${data.name}`);
  return v;
}

function create(a: CreateArgs): void {
  const vlog = new Logger(a.name);
  const tap = a.tap ? new TapIo(a.tap.fd, a.tap.vnetHdr, new Logger(`tap ${a.tap.ifname}`)) : null;
  const vif: Vif = { tap, grants: null, datapath: null as unknown as VifDatapath };
  const hv: DatapathHypervisor = {
    grantTable: () => {
      if (!vif.grants) throw new Error(`${a.name}: not connected`);
      return vif.grants;
    },
    evtchn,
  };
  vif.datapath = new VifDatapath({
    hv, backend: a.backend, frontend: a.frontend, peer: tap, stats: sharedCounters(a.stats), log: vlog, linkUp: a.linkUp,
    // The guest runs on another thread here: it could end a grant between the check and the write.
    zeroCopyTx: false,
    onFatal: (message) => post({ kind: 'fatal', vif: a.vif, message }),
  });
  vifs.set(a.vif, vif);
}

serveSyncCalls(data.requests, data.replies, data.replyFlag, (op, args) => {
  switch (op) {
    case 'create':
      return create(args as CreateArgs);
    case 'start': {
      const a = args as StartArgs;
      const v = vifOf(a);
      v.grants = GrantTable.attach(a.grants);
      return v.datapath.start(a);
    }
    case 'stop':
      return vifOf(args).datapath.stop();
    case 'kick':
      return vifOf(args).datapath.kick();
    case 'ringInfo':
      return vifOf(args).datapath.ringInfo();
    case 'setLink':
      return vifOf(args).datapath.setLink((args as { up: boolean }).up);
    case 'setConnected':
      return vifOf(args).datapath.setConnected((args as { connected: boolean }).connected);
    case 'startCapture': {
      const a = args as { path: string; snaplen?: number };
      return vifOf(args).datapath.startCapture(a.path, a.snaplen);
    }
    case 'stopCapture':
      return vifOf(args).datapath.stopCapture();
    case 'captureInfo':
      return vifOf(args).datapath.captureInfo();
    case 'destroy': {
      const v = vifOf(args);
      v.datapath.close();
      v.tap?.stop();
      vifs.delete((args as { vif: number }).vif);
      return undefined;
    }
    default:
      throw new Error(`datapath thread ${data.name}: unknown operation ${op}`);
  }
});
post({ kind: 'ready' });
