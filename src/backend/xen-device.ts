// A Xen backend device (QEMU's XenDevice): its xenstore directories, the backend state machine
// driven by the frontend's state, `online`, and deferred destruction.
//
// Backend states walk legal single steps towards a target (netback's set_backend_state):
//
//   Unknown/Initialising ──► InitWait ──► Connected
//            │                  │  ▲          │
//            │                  ▼  │          ▼
//            └──────────────► Closing ◄───────┘
//                               │
//                               ▼
//                             Closed ──(frontend re-initialises, online)──► InitWait
//
// Unplug (device_del or a toolstack) writes `online`=0 and `state`=Closing in one transaction;
// the backend watch then waits for the frontend to close (or closes at once if it never became
// active), and a device that is offline and Closed is destroyed by the bus, later, never from
// inside its own callback. A toolstack that only writes `online`=0 gets the same: an active
// device then walks to Closing itself, so that its frontend closes.
//
// The device object itself lives through three stages, walked by setLifecycle() alone:
//
//   live ──(offline and closed; or its frontend's domain gone)──► doomed ──(bus cleanup)──► destroyed
//     └───────────────────────────(server exit: destroyAll)─────────────────────────────────┘
//
// Hotplug scripts (Xen's docs/misc/xenstore-paths and libxl's vif scripts): a backend whose
// `hotplug-status` exists and is not `connected` (libxl writes it empty) maps the rings when the
// frontend connects but defers the switch to Connected, as Linux netback does (its
// hotplug_status_changed watch), until a script writes `connected`:
//
//   frontend Connected ─► connect() ─► hotplug-status?  absent or "connected" ─► Connected
//                                            │ anything else
//                                            ▼
//                        watch hotplug-status ... "connected" ─► Connected
//                                                 "error"     ─► stays (hotplug-error says why)

import { errorCode, errorMessage } from '../common/errors.js';
import { Logger } from '../common/log.js';
import { XenbusState, xenbusStateName, parseXenbusState, type XenbusStateValue } from '../protocol/xenbus.js';
import { exists, withTransaction, writeKeys } from '../xen/xenstore/index.js';
import type { XenBus } from './xen-bus.js';
import { ConnectFatal } from './connect-fatal.js';
import { backendPath, deviceName, errorPath, frontendPath, type DeviceAddress } from './xen-paths.js';

const S = XenbusState;

/** The next single step from `from` towards `target`, or null when there is none. */
function nextStep(from: XenbusStateValue, target: XenbusStateValue): XenbusStateValue | null {
  if (from === target) return null;
  switch (target) {
    case S.InitWait:
      return from === S.Unknown || from === S.Initialising || from === S.Closed ? S.InitWait : null;
    case S.Connected:
      return from === S.InitWait || from === S.Initialised ? S.Connected : null;
    case S.Closing:
      return from === S.Closed ? null : S.Closing;
    case S.Closed:
      return from === S.InitWait || from === S.Connected || from === S.Initialised ? S.Closing : S.Closed;
    default:
      return target;
  }
}

export type DeviceLifecycleListener = (dev: XenDevice) => void;

/** live: serving its frontend; doomed: the bus destroys it at its next cleanup; destroyed: gone. */
export type DeviceLifecycle = 'live' | 'doomed' | 'destroyed';

const LIFECYCLE_STEPS: Record<DeviceLifecycle, readonly DeviceLifecycle[]> = {
  live: ['doomed', 'destroyed'],
  doomed: ['destroyed'],
  destroyed: [],
};

export abstract class XenDevice {
  readonly backendPath: string;
  readonly frontendPath: string;
  readonly name: string;
  protected readonly log: Logger;
  backendState: XenbusStateValue = S.Unknown;
  frontendState: XenbusStateValue = S.Unknown;
  online = false;
  private lifecycle: DeviceLifecycle = 'live';
  private readonly watchTokens: string[] = [];
  /** Rings are up and the frontend is Connected; only the hotplug script is missing. */
  private awaitingHotplug = false;
  private hotplugToken: string | null = null;
  private readonly destroyListeners: DeviceLifecycleListener[] = [];

  constructor(readonly bus: XenBus, readonly address: DeviceAddress, label: string) {
    this.backendPath = backendPath(address);
    this.frontendPath = frontendPath(address);
    this.name = deviceName(address);
    this.log = new Logger(`${label} ${this.name}`);
  }

  get xs() {
    return this.bus.xs;
  }

  /** Marked for destruction (offline and closed, or its frontend's domain gone): the bus destroys it on its next cleanup. */
  get inactive(): boolean {
    return this.lifecycle === 'doomed';
  }

  get destroyed(): boolean {
    return this.lifecycle === 'destroyed';
  }

  /** The one place the device's own stage changes; false when it is already there or cannot go there. */
  private setLifecycle(to: DeviceLifecycle, why: string): boolean {
    if (!LIFECYCLE_STEPS[this.lifecycle].includes(to)) return false;
    this.log.info(`${this.lifecycle} -> ${to} (${why})`);
    this.lifecycle = to;
    return true;
  }

  /**
   * Device-specific realize: keys beyond the generic ones (QEMU's XenDeviceClass.realize),
   * written in `tx`, the transaction that makes both directories. It may run more than once
   * (a transaction that conflicts is run again), so it only writes.
   */
  protected abstract realizeDevice(tx: number): void;
  /** Called when the frontend is Connected; throws with the reason (ConnectFatal: xenbus_dev_fatal) on failure. */
  protected abstract connect(): void;
  /** Idempotent: tears down whatever connect() set up. */
  protected abstract disconnect(): void;
  /** After every change of backendState, ours or another's write. */
  protected backendStateChanged(): void {}

  onDestroyed(fn: DeviceLifecycleListener): void {
    this.destroyListeners.push(fn);
  }

  frontendIsActive(): boolean {
    const s = this.frontendState;
    return s === S.InitWait || s === S.Initialised || s === S.Connected || s === S.Closing;
  }

  /**
   * Creates both directories and every key in one transaction (as netback writes its features
   * in one: the frontend sees the backend whole, and a dom0 under load pays one round trip per
   * key only once), then InitWait. On any failure everything written so far is removed again,
   * so nothing half-made stays in xenstore.
   */
  realize(opts: { toolstackCreated?: boolean } = {}): void {
    try {
      withTransaction(this.xs, (tx) => {
        if (opts.toolstackCreated) this.completeToolstackBackend(tx);
        else this.createBackendDirectory(tx);
        this.createFrontendDirectory(tx);
        this.realizeDevice(tx);
      });
      this.online = true;
      this.watch(`${this.frontendPath}/state`, () => this.frontendChanged());
      this.watch(`${this.backendPath}/state`, () => this.backendChanged());
      this.watch(`${this.backendPath}/online`, () => this.backendChanged());
      this.setBackendState(S.InitWait);
    } catch (err) {
      this.removeDirectories();
      this.unwatchAll();
      throw err;
    }
  }

  /** Hot-unplug as QEMU's xen-bus does it: mimic the toolstack. */
  requestUnplug(): void {
    withTransaction(this.xs, (tx) => {
      this.xs.write(`${this.backendPath}/online`, '0', tx);
      this.xs.write(`${this.backendPath}/state`, String(S.Closing), tx);
    });
    this.log.info('unplug requested (online=0, state=Closing)');
    // Our own write: taken as ours now, so the watch that follows finds nothing new to report.
    this.noteBackendState(S.Closing, '');
  }

  /** Walks legal single steps towards `target`; one log line per step, nothing if already there. */
  setBackendState(target: XenbusStateValue): void {
    let step = nextStep(this.backendState, target);
    while (step !== null) {
      this.xs.write(`${this.backendPath}/state`, String(step));
      this.noteBackendState(step, '');
      step = nextStep(this.backendState, target);
    }
  }

  /** The backend state is now `state` (`how`: who wrote it, when not we): logged, and everyone told. */
  private noteBackendState(state: XenbusStateValue, how: string): void {
    if (state === this.backendState) return;
    this.log.info(`backend state ${xenbusStateName(this.backendState)} -> ${xenbusStateName(state)}${how}`);
    this.backendState = state;
    this.backendStateChanged();
    this.bus.stateChanged(this, 'backend');
  }

  /** xenbus_dev_fatal: the reason goes where the toolstack looks, and the device closes. */
  protected fatal(errno: number, message: string): void {
    this.recordError(errno, message);
    this.setBackendState(S.Closing);
  }

  /** xenbus_dev_error: the reason goes where the toolstack looks; the state stays as it is. */
  protected recordError(errno: number, message: string): void {
    this.log.error(`fatal error: ${message}`);
    try {
      this.xs.write(errorPath(this.address), `${errno} ${message}`);
    } catch (err) {
      this.log.warn(`could not record the error: ${(err as Error).message}`);
    }
  }

  /**
   * The frontend's domain is gone: nothing will ever close the frontend, so the device goes as
   * it is (disconnected, directories removed) at the bus's next cleanup.
   */
  frontendGone(): void {
    this.setLifecycle('doomed', 'its frontend domain is gone');
  }

  /** Called by the bus: unrealize and remove the directories. Idempotent. */
  destroy(): void {
    if (!this.setLifecycle('destroyed', 'destroyed by the bus')) return;
    try {
      this.disconnect();
    } catch (err) {
      this.log.warn(`disconnect during destroy failed: ${(err as Error).message}`);
    }
    this.unwatchAll();
    this.removeDirectories();
    for (const fn of this.destroyListeners) fn(this);
  }

  private createBackendDirectory(tx: number): void {
    const { backendDomid, frontendId } = this.address;
    if (exists(this.xs, this.backendPath, tx)) this.xs.rm(this.backendPath, tx);
    this.xs.mkdir(this.backendPath, tx);
    this.xs.setPerms(this.backendPath, [`n${backendDomid}`, `r${frontendId}`], tx);
    writeKeys(this.xs, this.backendPath,
      { frontend: this.frontendPath, 'frontend-id': frontendId, online: 1, 'hotplug-status': 'connected' }, tx);
  }

  /**
   * A toolstack wrote the backend directory; its keys are kept (`hotplug-status` above all).
   * Only what it left out of the generic keys is added. The frontend must be able to read the
   * backend: libxl grants that before writing the keys, but keys written with xenstore-write
   * alone inherit dom0's private `n0`, so those (and only those) get `[n<be>, r<fe>]`, the list
   * QEMU's realize gives the directory.
   */
  private completeToolstackBackend(tx: number): void {
    const { backendDomid, frontendId } = this.address;
    const privateToBackend = `n${backendDomid}`;
    const nodes = [this.backendPath, ...this.xs.directory(this.backendPath, tx).map((k) => `${this.backendPath}/${k}`)];
    for (const node of nodes) {
      const perms = this.xs.getPerms(node, tx);
      if (perms.length === 1 && perms[0] === privateToBackend) this.xs.setPerms(node, [privateToBackend, `r${frontendId}`], tx);
    }
    if (this.xs.readString(`${this.backendPath}/frontend`, tx) === undefined) {
      this.xs.write(`${this.backendPath}/frontend`, this.frontendPath, tx);
    }
    if (this.xs.readString(`${this.backendPath}/frontend-id`, tx) === undefined) {
      this.xs.write(`${this.backendPath}/frontend-id`, String(frontendId), tx);
    }
  }

  /** A toolstack may have made the frontend directory already; it is kept as it is then. */
  private createFrontendDirectory(tx: number): void {
    const { backendDomid, frontendId } = this.address;
    if (this.xs.readString(`${this.frontendPath}/state`, tx) !== undefined) return;
    this.xs.mkdir(this.frontendPath, tx);
    this.xs.setPerms(this.frontendPath, [`n${frontendId}`, `r${backendDomid}`], tx);
    writeKeys(this.xs, this.frontendPath, { backend: this.backendPath, 'backend-id': backendDomid, state: S.Initialising }, tx);
  }

  private removeDirectories(): void {
    for (const path of [this.frontendPath, this.backendPath]) {
      try {
        this.xs.rm(path);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') this.log.warn(`could not remove ${path}: ${errorMessage(err)}`);
      }
    }
  }

  private frontendChanged(): void {
    if (this.destroyed) return;
    const state = parseXenbusState(this.xs.readString(`${this.frontendPath}/state`));
    if (state !== this.frontendState) {
      this.log.info(`frontend state ${xenbusStateName(this.frontendState)} -> ${xenbusStateName(state)}`);
      this.frontendState = state;
      this.bus.stateChanged(this, 'frontend');
    }
    if (state !== S.Connected && this.awaitingHotplug) this.stopAwaitingHotplug();
    if (state === S.Initialising && this.backendState === S.Closed && this.online) {
      this.setBackendState(S.InitWait);
      return;
    }
    switch (state) {
      case S.Connected:
        if (this.backendState === S.Connected || this.awaitingHotplug) break;
        this.disconnect();
        try {
          this.connect();
        } catch (err) {
          this.disconnect();
          if (err instanceof ConnectFatal) {
            this.fatal(err.errno, err.message);
          } else {
            this.log.error(`connect failed: ${(err as Error).message}`);
            this.setBackendState(S.Closing);
          }
          break;
        }
        if (this.hotplugPending()) this.awaitHotplug();
        else this.setBackendState(S.Connected);
        break;
      case S.Closing:
        this.setBackendState(S.Closing);
        break;
      case S.Closed:
      case S.Unknown:
        this.disconnect();
        this.setBackendState(S.Closed);
        break;
      default:
        break; // Initialised: Linux netback does nothing either
    }
    this.checkInactive();
  }

  private hotplugPending(): boolean {
    const status = this.xs.readString(`${this.backendPath}/hotplug-status`);
    return status !== undefined && status !== 'connected';
  }

  private awaitHotplug(): void {
    this.awaitingHotplug = true;
    this.log.info('rings connected; waiting for the hotplug script (hotplug-status=connected)');
    if (this.hotplugToken === null) {
      this.hotplugToken = this.bus.watch(`${this.backendPath}/hotplug-status`, () => this.hotplugStatusChanged());
    }
  }

  private hotplugStatusChanged(): void {
    if (this.destroyed || !this.awaitingHotplug) return;
    const status = this.xs.readString(`${this.backendPath}/hotplug-status`);
    if (status === 'error') {
      const why = this.xs.readString(`${this.backendPath}/hotplug-error`) ?? 'no hotplug-error given';
      this.log.error(`hotplug script failed: ${why}; the device stays unconnected`);
      return;
    }
    if (status !== undefined && status !== 'connected') return;
    this.stopAwaitingHotplug();
    if (this.frontendState === S.Connected) this.setBackendState(S.Connected);
  }

  private stopAwaitingHotplug(): void {
    this.awaitingHotplug = false;
    if (this.hotplugToken !== null) {
      this.bus.unwatch(this.hotplugToken);
      this.hotplugToken = null;
    }
  }

  private backendChanged(): void {
    if (this.destroyed) return;
    const state = parseXenbusState(this.xs.readString(`${this.backendPath}/state`));
    this.noteBackendState(state, ' (written by another)');
    const wasOnline = this.online;
    this.online = this.xs.readString(`${this.backendPath}/online`) === '1';
    if (wasOnline && !this.online && this.frontendIsActive() && state !== S.Closing && state !== S.Closed) {
      this.log.info('online=0 while the frontend is active: closing');
      this.setBackendState(S.Closing);
    }
    if (this.backendState === S.Closing && !this.frontendIsActive()) this.setBackendState(S.Closed);
    this.checkInactive();
  }

  private checkInactive(): void {
    const s = this.backendState;
    if (!this.online && (s === S.Closed || s === S.Initialising || s === S.InitWait || s === S.Unknown) &&
        this.setLifecycle('doomed', `offline and ${xenbusStateName(s)}`)) {
      this.bus.scheduleCleanup();
    }
  }

  private watch(path: string, handler: () => void): void {
    this.watchTokens.push(this.bus.watch(path, handler));
  }

  private unwatchAll(): void {
    this.stopAwaitingHotplug();
    for (const token of this.watchTokens.splice(0)) this.bus.unwatch(token);
  }
}
