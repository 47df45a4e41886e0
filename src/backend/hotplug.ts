// Hotplug scripts, run the way Xen runs vif-bridge (tools/hotplug/Linux/vif-bridge and
// xen-hotplug-common.sh, started by libxl's libxl__get_hotplug_script_info): the backend's
// `script` key names the script; it gets the action as its only argument and learns the rest
// from its environment, as libxl's hotplug code and Xen's udev rules provide it:
//
//   script             the script's own path
//   vif                the host-side interface (the tap), e.g. vif1.0
//   XENBUS_PATH        the backend directory relative to the backend domain, backend/qnic/1/0
//                      (xenstore-read/-write resolve it against /local/domain/0, as under Xen)
//   XENBUS_TYPE        the backend type (qnic); XENBUS_BASE_PATH=backend; type_if=vif
//   XENSTORED_PATH     the xenstore socket vifd uses (the one it serves, or the external
//                      xenstored it is connected to), so that the script's xenstore-write
//                      reaches the same store
//
// Actions: `online` when the device appears and `offline` when it goes (libxl's choice for
// type=vif); `add`/`remove` for type=vif_ioemu, as libxl passes for emulated NICs. vif-bridge
// treats each pair alike. A successful `online` writes hotplug-status=connected itself (Xen's
// success()); a script that fails writes hotplug-status=error and hotplug-error (Xen's
// fatal()) — and if it did not, vifd writes them for it, so the toolstack always finds why.
//
// Scripts run asynchronously: they may talk to vifd's own xenstore socket, which a synchronous
// wait would starve.

import { spawn } from 'node:child_process';
import { Logger } from '../common/log.js';
import { domainPathOf } from '../xen/paths.js';
import { exists, withTransaction, type XsHandle } from '../xen/xenstore/index.js';
import type { DeviceAddress } from './xen-paths.js';

export type HotplugAction = 'online' | 'offline' | 'add' | 'remove';

export const HOTPLUG_TIMEOUT_MS = 30000;
const STDERR_KEEP = 4096;

export interface HotplugRun {
  script: string;
  action: HotplugAction;
  env: Readonly<Record<string, string>>;
  timeoutMs?: number;
}

export interface HotplugOutcome {
  ok: boolean;
  /** What went wrong, in one line (empty when ok). */
  reason: string;
}

const ETXTBSY_TRIES = 5;

/** Runs the script and reports how it ended; never rejects. */
export async function runHotplugScript(run: HotplugRun): Promise<HotplugOutcome> {
  // "Text file busy" passes: a script just written may still be open in a child being forked.
  for (let attempt = 1; ; attempt++) {
    const outcome = await runOnce(run);
    if (!outcome.reason.includes('ETXTBSY') || attempt === ETXTBSY_TRIES) return outcome;
    await new Promise((r) => setTimeout(r, 20 * attempt));
  }
}

function runOnce(run: HotplugRun): Promise<HotplugOutcome> {
  return new Promise((resolve) => {
    let stderr = '';
    let settled = false;
    const done = (outcome: HotplugOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    let child: ReturnType<typeof spawn>;
    try {
      // Node throws here, rather than emitting 'error', for some failures (a path it refuses,
      // an errno it does not expect, such as ETXTBSY for a script still open for writing).
      child = spawn(run.script, [run.action], { env: { ...process.env, ...run.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      resolve({ ok: false, reason: `${run.script} ${run.action} could not be run: ${(err as Error).message}` });
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), run.timeoutMs ?? HOTPLUG_TIMEOUT_MS);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-STDERR_KEEP); });
    child.on('error', (err) => done({ ok: false, reason: `${run.script} ${run.action} could not be run: ${err.message}` }));
    child.on('close', (code, signal) => {
      if (code === 0) return done({ ok: true, reason: '' });
      const how = signal ? `was killed by ${signal}` : `failed with exit status ${code}`;
      const last = stderr.trim().split('\n').pop();
      done({ ok: false, reason: `${run.script} ${run.action} ${how}${last ? `: ${last}` : ''}` });
    });
  });
}

/** The environment libxl gives a vif's hotplug script. */
export function hotplugEnvironment(address: DeviceAddress, backendPath: string, script: string, vif: string,
  extra: Readonly<Record<string, string>>): Record<string, string> {
  const home = `${domainPathOf(address.backendDomid)}/`;
  const relative = backendPath.startsWith(home) ? backendPath.slice(home.length) : backendPath;
  return {
    ...extra,
    script, vif,
    XENBUS_PATH: relative,
    XENBUS_TYPE: address.type,
    XENBUS_BASE_PATH: 'backend',
    type_if: 'vif',
  };
}

/**
 * A failed script's verdict, where the toolstack looks: hotplug-status=error and hotplug-error,
 * unless the script said so itself, or the backend is gone (nothing is recreated).
 */
export function recordHotplugFailure(xs: XsHandle, backendPath: string, reason: string): void {
  withTransaction(xs, (tx) => {
    if (!exists(xs, backendPath, tx)) return;
    if (xs.readString(`${backendPath}/hotplug-status`, tx) === 'error') return;
    xs.write(`${backendPath}/hotplug-error`, reason, tx);
    xs.write(`${backendPath}/hotplug-status`, 'error', tx);
  });
}

/** What a vif device needs to run its script. */
export interface HotplugDevice {
  readonly xs: XsHandle;
  readonly address: DeviceAddress;
  readonly backendPath: string;
  readonly destroyed: boolean;
}

/**
 * One device's script: `start()` when it appears (online/add), `stop()` when it goes
 * (offline/remove, not waited for: the backend directory is already being removed).
 */
export class VifHotplug {
  private readonly log: Logger;
  private started = false;

  constructor(private readonly dev: HotplugDevice, readonly script: string, private readonly emulated: boolean,
    private readonly vif: string, private readonly extraEnv: Readonly<Record<string, string>>) {
    this.log = new Logger(`hotplug ${dev.address.type}/${dev.address.frontendId}/${dev.address.devid}`);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const action: HotplugAction = this.emulated ? 'add' : 'online';
    void this.run(action).then((outcome) => {
      if (outcome.ok || this.dev.destroyed) return;
      this.log.error(outcome.reason);
      try {
        recordHotplugFailure(this.dev.xs, this.dev.backendPath, outcome.reason);
      } catch (err) {
        this.log.warn(`could not record the failure: ${(err as Error).message}`);
      }
    });
  }

  stop(): void {
    if (!this.started) return;
    void this.run(this.emulated ? 'remove' : 'offline').then((outcome) => {
      if (!outcome.ok) this.log.warn(outcome.reason);
    });
  }

  private run(action: HotplugAction): Promise<HotplugOutcome> {
    this.log.info(`${this.script} ${action} (vif=${this.vif})`);
    const env = hotplugEnvironment(this.dev.address, this.dev.backendPath, this.script, this.vif, this.extraEnv);
    return runHotplugScript({ script: this.script, action, env });
  }
}
