// A datapath thread (QEMU's iothread for dataplane devices): the rings and tap I/O of vifs
// run on a worker thread of their own, so the guest's side, the control plane and the datapath
// use separate CPUs. The control side of each vif stays here: xenstore, the grant mappings of
// its rings and the binding of its event channels (acquired here, queue-resources.ts, through
// the thread's link to the platform, so that their upcalls and notifies happen there), the
// carrier and offloads of its tap. What crosses: the platform's ThreadLink handoff, the
// counters (shared memory), and the control operations, as synchronous calls that the worker
// answers between two ring sweeps.

import { MessageChannel, Worker } from 'node:worker_threads';
import { emitLogLine, Logger, logLevel } from '../../common/log.js';
import { SyncCaller } from '../../common/sync-call.js';
import type { BackendPlatform, EvtchnBinder, ThreadLink } from '../../xen/backend-ops.js';
import type { NetClient } from '../net/net-client.js';
import type { DatapathEvent, DatapathOps, DatapathWorkerData } from './datapath-protocol.js';
import type { QueueInfo } from './queue.js';
import type { TxRate } from './tx-credit.js';
import type { CaptureInfo, DatapathStart, VifDatapathControl } from './vif-datapath.js';

/** A control call waits this long for the worker, which answers between sweeps. */
const CALL_TIMEOUT_MS = 5000;

/** The thread has ended (stopped, or failed): its vifs' datapaths are gone with it. */
export class DatapathThreadGone extends Error {
  readonly code = 'EPIPE';
  constructor(name: string, why: string) {
    super(`datapath thread ${name} ${why}`);
    this.name = 'DatapathThreadGone';
  }
}

export interface ThreadedVifOptions {
  name: string;
  frontend: number;
  peer: NetClient | null;
  stats: SharedArrayBuffer;
  linkUp: boolean;
  onFatal(message: string): void;
}

export class DatapathThread {
  private readonly worker: Worker;
  private readonly caller: SyncCaller<DatapathOps>;
  private readonly link: ThreadLink;
  private readonly vifs = new Map<number, ThreadedVifDatapath>();
  private nextVif = 1;
  private exited: string | null = null;
  private readonly log: Logger;

  /**
   * Starts the worker and resolves once it serves calls. A call before then would sleep on the
   * main thread while the worker's start-up may need it: the two would wait for each other.
   */
  static async start(platform: BackendPlatform, name = 'datapath0'): Promise<DatapathThread> {
    const t = new DatapathThread(platform, name);
    await t.ready;
    return t;
  }

  private readonly ready: Promise<void>;

  private constructor(platform: BackendPlatform, readonly name: string) {
    this.log = new Logger(`iothread ${name}`);
    this.link = platform.openThreadLink();
    const requests = new MessageChannel();
    const replies = new MessageChannel();
    const events = new MessageChannel();
    const replyFlag = new SharedArrayBuffer(4);
    const data: DatapathWorkerData = {
      name, logLevel: logLevel(), requests: requests.port2, replies: replies.port2, events: events.port2, replyFlag,
      platform: this.link.handoff,
    };
    this.worker = new Worker(new URL('./datapath-worker.js', import.meta.url), {
      workerData: data, transferList: [requests.port2, replies.port2, events.port2], name,
      // The thread runs a file: an --input-type the process was started with (node -e) does not apply.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
    });
    this.worker.on('error', (err) => this.died(`failed: ${err.stack ?? err.message}`));
    this.worker.on('exit', (code) => this.died(`exited with code ${code}`));
    this.caller = new SyncCaller(requests.port1, replies.port1, replyFlag, `datapath thread ${name}`);
    this.ready = new Promise((resolve, reject) => {
      events.port1.on('message', (e: DatapathEvent) => {
        if (e.kind === 'ready') resolve();
        else this.event(e);
      });
      this.worker.once('exit', () => reject(new Error(`datapath thread ${name} ${this.exited ?? 'exited'}`)));
    });
    void this.ready.then(() => {
      this.worker.unref();
      events.port1.unref();
    }, () => undefined);
  }

  /** Binds the ports of this thread's vifs: their upcalls and notifies happen on the thread. */
  get evtchn(): EvtchnBinder {
    return this.link.evtchn;
  }

  /** Makes the datapath of one vif on this thread; its tap's I/O moves here until close(). */
  attachVif(opts: ThreadedVifOptions): ThreadedVifDatapath {
    const vif = this.nextVif++;
    const dp = new ThreadedVifDatapath(this, vif, opts);
    this.vifs.set(vif, dp);
    return dp;
  }

  /** @internal */
  call<K extends keyof DatapathOps>(op: K, args: DatapathOps[K]['args']): DatapathOps[K]['result'] {
    if (this.exited) throw new DatapathThreadGone(this.name, this.exited);
    return this.caller.call(op, args, CALL_TIMEOUT_MS);
  }

  /** @internal */
  forget(vif: number): void {
    this.vifs.delete(vif);
  }

  /** Stops the worker; vifs still attached lose their datapath. */
  close(): void {
    if (this.exited) return;
    this.exited = 'was stopped';
    // The link is let go of once the thread is gone: it may be reading the link's fd until then.
    void this.worker.terminate().finally(() => this.link.close());
  }

  private event(e: DatapathEvent): void {
    if (e.kind === 'log') emitLogLine(e.line);
    else if (e.kind === 'fatal') this.vifs.get(e.vif)?.fatal(e.message);
  }

  private died(why: string): void {
    if (this.exited) {
      this.link.close();
      return;
    }
    this.exited = why;
    this.link.close();
    this.log.error(`${why}: the datapaths of ${this.vifs.size} vif(s) are stopped`);
  }
}

/** The control side's handle on a vif datapath that runs on a DatapathThread. */
export class ThreadedVifDatapath implements VifDatapathControl {
  private closed = false;

  constructor(private readonly thread: DatapathThread, private readonly vif: number, private readonly opts: ThreadedVifOptions) {
    const tap = opts.peer?.lendIo?.() ?? null;
    try {
      thread.call('create', { vif, name: opts.name, frontend: opts.frontend, tap, stats: opts.stats, linkUp: opts.linkUp });
    } catch (err) {
      opts.peer?.reclaimIo?.();
      throw err;
    }
  }

  /** @internal From the worker. */
  fatal(message: string): void {
    if (!this.closed) this.opts.onFatal(message);
  }

  start(s: DatapathStart): void {
    this.thread.call('start', { ...s, vif: this.vif });
  }

  stop(): void {
    this.settle('stop', { vif: this.vif });
  }

  kick(): void {
    this.settle('kick', { vif: this.vif });
  }

  ringInfo(): QueueInfo[] | null {
    return this.settle('ringInfo', { vif: this.vif }) ?? null;
  }

  setLink(up: boolean): void {
    this.settle('setLink', { vif: this.vif, up });
  }

  setMulticastControl(on: boolean): void {
    this.settle('setMulticastControl', { vif: this.vif, on });
  }

  setRate(rate: TxRate): void {
    this.settle('setRate', { vif: this.vif, rate });
  }

  setConnected(connected: boolean): void {
    this.settle('setConnected', { vif: this.vif, connected });
  }

  /**
   * A call that must not fail the control side when the thread is gone: the datapath went with
   * it (its rings are no longer serviced), and the device must still be able to disconnect,
   * unplug and answer queries. Anything else the worker throws is thrown.
   */
  private settle<K extends keyof DatapathOps>(op: K, args: DatapathOps[K]['args']): DatapathOps[K]['result'] | undefined {
    try {
      return this.thread.call(op, args);
    } catch (err) {
      if (err instanceof DatapathThreadGone) return undefined;
      throw err;
    }
  }

  startCapture(path: string, snaplen?: number): void {
    this.thread.call('startCapture', { vif: this.vif, path, snaplen });
  }

  stopCapture(): number | null {
    return this.settle('stopCapture', { vif: this.vif }) ?? null;
  }

  captureInfo(): CaptureInfo | null {
    return this.settle('captureInfo', { vif: this.vif }) ?? null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.thread.forget(this.vif);
    try {
      this.settle('destroy', { vif: this.vif });
    } finally {
      // The worker has let go of the fd (or is gone): the tap reads and writes here again.
      this.opts.peer?.reclaimIo?.();
    }
  }
}
