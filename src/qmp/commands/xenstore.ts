// vifd's own operator commands on the emulated xenstore (QEMU's downstream prefix
// `__com.vifd_`): read, write and list nodes with dom0's privileges.

import { VifdError } from '../../common/errors.js';
import type { XsHandle } from '../../xen/xenstore/index.js';
import type { Args, Dispatcher } from '../dispatcher.js';

function xsCall<T>(op: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new VifdError('XENSTORE_ERROR', op, path, (err as { code?: string }).code ?? (err as Error).message);
  }
}

export function registerXenstoreCommands(d: Dispatcher, xs: XsHandle): void {
  d.register('__com.vifd_xenstore-read', (a: Args) => {
    const path = a['path'] as string;
    return xsCall('read', path, () => xs.read(path).toString('utf8'));
  });
  d.register('__com.vifd_xenstore-directory', (a: Args) => {
    const path = a['path'] as string;
    return xsCall('directory', path, () => xs.directory(path));
  });
  d.register('__com.vifd_xenstore-write', (a: Args) => {
    const path = a['path'] as string;
    xsCall('write', path, () => xs.write(path, a['value'] as string));
    return {};
  });
}
