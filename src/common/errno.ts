// errno values, named once: the host's own (Linux's, from Node), which are also the numbers
// xenstored answers with and xenbus_dev_fatal writes.

import { constants } from 'node:os';

export const { EPERM, ENOENT, EIO, EBADF, EAGAIN, ENOMEM, EACCES, EBUSY, EEXIST, ENODEV, EINVAL, ENOSPC, ENOTCONN,
  ESRCH, E2BIG, EPIPE } = constants.errno;

/** The errno name of a number (ENOENT for 2), as xenstored and the kernel spell it. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}
