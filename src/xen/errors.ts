// Errors of the emulated hypervisor. Each carries a stable code and, for grant operations,
// the GNTST_* status a real hypervisor would have returned.

export class XenError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'XenError';
  }
}

export const GNTST = {
  okay: 0,
  general_error: -1,
  bad_domain: -2,
  bad_gntref: -3,
  bad_handle: -4,
  bad_virt_addr: -5,
  bad_dev_addr: -6,
  no_device_space: -7,
  permission_denied: -8,
  bad_page: -9,
  bad_copy_arg: -10,
  address_too_big: -11,
  eagain: -12,
  no_space: -13,
} as const;

const GNTST_TEXT: Record<number, string> = {
  0: 'okay',
  [-1]: 'undefined error',
  [-2]: 'unrecognised domain id',
  [-3]: 'invalid grant reference',
  [-4]: 'invalid mapping handle',
  [-5]: 'invalid virtual address',
  [-6]: 'invalid device address',
  [-7]: 'no spare translation slot in the I/O MMU',
  [-8]: 'permission denied',
  [-9]: 'bad page',
  [-10]: 'copy arguments cross page boundary',
  [-11]: 'page address size too large',
  [-12]: 'operation could not be completed, try again',
  [-13]: 'out of space',
};

export function grantStatusText(status: number): string {
  return GNTST_TEXT[status] ?? `unknown grant status ${status}`;
}

export class GrantError extends XenError {
  constructor(readonly status: number, context: string) {
    super('EGRANT', `${context}: ${grantStatusText(status)}`);
    this.name = 'GrantError';
  }
}
