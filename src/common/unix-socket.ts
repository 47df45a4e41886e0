// Listening on a unix socket path the way QEMU's -qmp and xenstored do.

import { existsSync, lstatSync, unlinkSync } from 'node:fs';

/** A socket file left by a previous run is replaced; anything else at the path is an error. */
export function removeStaleSocket(path: string): void {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  unlinkSync(path);
}
