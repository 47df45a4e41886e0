// A datapath thread's side of the platform seam: the DatapathPlatform that the platform's own
// ThreadLink handoff describes, whichever platform made it. The only place that names both
// implementations, so that the thread's code (netback) names neither.

import type { DatapathPlatform, Handoff } from './backend-ops.js';
import { EmulatedThreadDatapath, type EmulatedThreadHandoff } from './emulated/thread-link.js';
import { HostThreadDatapath, type HostThreadHandoff } from './host/thread-link.js';

export interface AttachedDatapath extends DatapathPlatform {
  /** Stops delivering upcalls and lets go of what the thread held. */
  close(): void;
}

/** `reportError` hears of an upcall that threw (the other upcalls go on). */
export function attachDatapath(handoff: Handoff, reportError: (err: unknown, port: number) => void): AttachedDatapath {
  switch (handoff.platform) {
    case 'emulated':
      return new EmulatedThreadDatapath(handoff as EmulatedThreadHandoff, reportError);
    case 'host':
      return new HostThreadDatapath(handoff as HostThreadHandoff, reportError);
    default:
      throw new Error(`no datapath for the ${handoff.platform} platform`);
  }
}
