// Finds and loads the N-API addon built by node-gyp at install time (build/Release/vifd_native.node).
// Each layer declares the part of it that layer uses (backend/net/native.ts: taps and sockets;
// xen/grant-copy.ts: grant copies), so nothing reaches up for its types.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let addon: unknown;

/** The addon's exports; from src/ or dist/src/ alike, whichever the process runs. */
export function loadNativeAddon(): unknown {
  if (addon !== undefined) return addon;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'vifd_native.node');
    if (existsSync(candidate)) {
      addon = createRequire(import.meta.url)(candidate);
      return addon;
    }
    dir = resolve(dir, '..');
  }
  throw new Error('native addon build/Release/vifd_native.node not found: run npm install (node-gyp rebuild)');
}
