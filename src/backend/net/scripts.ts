// QEMU's launch_script(): a tap's up/down script runs with the interface name as its only
// argument, and the caller waits for it. A failure is reported with the raw wait status
// (exit code 1 is "status 256"), which is the text QEMU's users already grep for.

import { spawnSync } from 'node:child_process';

/** QEMU's defaults; vifd uses them only when they exist (see netdevs.ts). */
export const DEFAULT_UP_SCRIPT = '/etc/qemu-ifup';
export const DEFAULT_DOWN_SCRIPT = '/etc/qemu-ifdown';
const SCRIPT_TIMEOUT_MS = 30000;

/** 'no' or empty means no script, as in QEMU. */
export function isScript(script: string | undefined): script is string {
  return script !== undefined && script !== '' && script !== 'no';
}

/** Runs `script ifname`; returns null on success, else the wait status QEMU would print. */
export function launchScript(script: string, ifname: string): number | null {
  const r = spawnSync(script, [ifname], { stdio: ['ignore', 'inherit', 'inherit'], timeout: SCRIPT_TIMEOUT_MS });
  // A script that cannot be executed fails like QEMU's child that calls _exit(1) after execv.
  if (r.error) return 1 << 8;
  if (r.signal) return signalNumber(r.signal);
  return r.status === 0 ? null : (r.status ?? 1) << 8;
}

function signalNumber(name: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };
  return table[name] ?? 6;
}
