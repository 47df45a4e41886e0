// Errors of the Xen platforms. Each carries a stable code and, for grant operations, the
// GNTST_* status the hypervisor returned (or, emulated, would have).

import { GNTST } from './grant-abi.js';

export { GNTST };

/**
 * What a platform operation failed with: the errno name the hypervisor's interfaces answer
 * (ESRCH for a domain that does not exist, EINVAL for a port or ref out of range, ...), or
 * EGRANT for a grant refused (GrantError carries its GNTST status).
 */
export type XenErrorCode = 'EEXIST' | 'EINVAL' | 'ENODEV' | 'ENOMEM' | 'ENOSPC' | 'ENOTCONN' | 'ESRCH' | 'EGRANT';

export class XenError extends Error {
  constructor(readonly code: XenErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'XenError';
  }
}

/** Xen's GNTTABOP_error_msgs. */
const GNTST_TEXT: Record<number, string> = {
  [GNTST.okay]: 'okay',
  [GNTST.general_error]: 'undefined error',
  [GNTST.bad_domain]: 'unrecognised domain id',
  [GNTST.bad_gntref]: 'invalid grant reference',
  [GNTST.bad_handle]: 'invalid mapping handle',
  [GNTST.bad_virt_addr]: 'invalid virtual address',
  [GNTST.bad_dev_addr]: 'invalid device address',
  [GNTST.no_device_space]: 'no spare translation slot in the I/O MMU',
  [GNTST.permission_denied]: 'permission denied',
  [GNTST.bad_page]: 'bad page',
  [GNTST.bad_copy_arg]: 'copy arguments cross page boundary',
  [GNTST.address_too_big]: 'page address size too large',
  [GNTST.eagain]: 'operation could not be completed, try again',
  [GNTST.no_space]: 'out of space',
};

export function grantStatusText(status: number): string {
  return GNTST_TEXT[status] ?? `unknown grant status ${status}`;
}

export class GrantError extends XenError {
  constructor(readonly status: number, context: string, options?: ErrorOptions) {
    super('EGRANT', `${context}: ${grantStatusText(status)}`, options);
    this.name = 'GrantError';
  }
}
