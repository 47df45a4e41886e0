// The one place where an error from below becomes what a QMP client reads: the catalogue's
// errors (VifdError) carry their QEMU class and text; the platform's typed errors (xenstore's
// XsError, the hypervisor's XenError) are GenericError with their own text, as QEMU reports a
// failing libxenstore or libxengnttab call; anything else is a bug, reported as GenericError and
// flagged so the server warns with its stack.

import { isVifdError, type QmpErrorClass } from '../common/errors.js';
import { XenError } from '../xen/errors.js';
import { XsError } from '../xen/xenstore/errors.js';

export interface QmpErrorReply {
  qmpClass: QmpErrorClass;
  desc: string;
  /** Nothing below meant to throw it: the server logs it. */
  unexpected: boolean;
}

export function qmpErrorOf(err: unknown): QmpErrorReply {
  if (isVifdError(err)) return { qmpClass: err.qmpClass, desc: err.message, unexpected: false };
  if (err instanceof XsError || err instanceof XenError) return { qmpClass: 'GenericError', desc: err.message, unexpected: false };
  return { qmpClass: 'GenericError', desc: err instanceof Error ? err.message : String(err), unexpected: true };
}
