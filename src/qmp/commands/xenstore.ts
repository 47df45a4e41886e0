// vifd's own operator commands on the emulated xenstore (QEMU's downstream prefix
// `__com.vifd_`): read, write and list nodes with dom0's privileges.

import { VifdError } from '../../common/errors.js';
import type { XsHandle } from '../../xen/xenstore/index.js';
import type { Dispatcher } from '../dispatcher.js';
import { errorCode, errorMessage } from './errors.js';

/** Runs a xenstore operation; its failure becomes QMP's error naming the op, path and errno. */
export function xsCall<T>(op: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new VifdError('XENSTORE_ERROR', op, path, errorCode(err) ?? errorMessage(err));
  }
}

export function registerXenstoreCommands(d: Dispatcher, xs: XsHandle): void {
  d.register('__com.vifd_xenstore-read', ({ path }) => {
    return xsCall('read', path, () => xs.read(path).toString('utf8'));
  });
  d.register('__com.vifd_xenstore-directory', ({ path }) => {
    return xsCall('directory', path, () => xs.directory(path));
  });
  d.register('__com.vifd_xenstore-write', ({ path, value }) => {
    xsCall('write', path, () => xs.write(path, value));
    return {};
  });
}
