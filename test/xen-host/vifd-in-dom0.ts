// vifd itself in dom0, run from the checkout with the host's node (10-17 s to start under TCG),
// and a QMP session to it from here through a bridge.

import type { QmpClient } from '../../src/qmp/client.js';
import type { Dom0Process } from './dom0.js';
import type { Lab } from './lab.js';
import { connectQmp, type QmpBridge } from './qmp-bridge.js';

export interface VifdInDom0 {
  proc: Dom0Process;
  /** Its -qmp socket in dom0. */
  qmpPath: string;
  /** From start to "is running" on its stdout. */
  startMs: number;
}

/**
 * Starts `node bin/vifd.js -qmp unix:<qmpPath>,server=on,wait=off <args>` as background process
 * `name`, and waits until it says it is running; fails with its stderr if it exits first.
 */
export async function startVifd(lab: Lab, name: string, qmpPath: string, args: readonly string[], timeoutMs = 90000): Promise<VifdInDom0> {
  const t0 = Date.now();
  const proc = await lab.dom0.start(name, ['node', 'bin/vifd.js', '-qmp', `unix:${qmpPath},server=on,wait=off`, ...args],
    { env: { VIFD_LOG: 'info' } });
  try {
    await proc.waitOutput(/is running/, timeoutMs);
  } catch (err) {
    if (proc.exitCode === undefined) await proc.stop({ signal: 'KILL' });
    throw new Error(`vifd in dom0: ${(err as Error).message}`);
  }
  return { proc, qmpPath, startMs: Date.now() - t0 };
}

/** A negotiated QMP session to a vifd in dom0, through `bridge` (which must lead to its qmpPath). */
export async function vifdQmp(vifd: VifdInDom0, bridge: QmpBridge, timeoutMs = 30000): Promise<QmpClient> {
  try {
    return await connectQmp(bridge, timeoutMs);
  } catch (err) {
    const state = vifd.proc.exitCode === undefined ? 'still running' : `exited with ${vifd.proc.exitCode}`;
    throw new Error(`${(err as Error).message}; vifd ${state}, its stderr: ${vifd.proc.stderr.trim().slice(-800)}`);
  }
}
