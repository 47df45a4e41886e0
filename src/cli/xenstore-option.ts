// `-xenstore socket=PATH`: where vifd serves its xenstore to real Xen tools (xenstore-utils,
// pyxs, test-xenstore) over the wire protocol, as xenstored serves /var/run/xenstored/socket.
// `-xenstore none` serves nothing. Without the option, the embedded defaults (`npm start`) serve
// run/xenstored.sock; a configured vifd (one given a monitor) serves only what it is asked to.

import { OptionError, parseOpts, takeKnown } from './qemu-opts.js';

export interface XenstoreSpec {
  /** The unix socket to serve the wire protocol on. */
  socket: string;
}

export const DEFAULT_XENSTORE_SOCKET = 'run/xenstored.sock';

export function parseXenstoreOption(value: string): XenstoreSpec | null {
  if (value === 'none') return null;
  const p = parseOpts('xenstore', value, false);
  takeKnown('xenstore', p, ['socket']);
  const socket = p.params.get('socket');
  if (socket === undefined) throw new OptionError('xenstore', "Parameter 'socket' is missing");
  if (socket === '') throw new OptionError('xenstore', 'socket= needs a path');
  return { socket };
}

export const XENSTORE_USAGE = `Xenstore (default with the default monitor: -xenstore socket=${DEFAULT_XENSTORE_SOCKET})
  -xenstore socket=PATH                   serve the emulated xenstore on a unix socket (dom0's
                                          rights; XENSTORED_PATH=PATH xenstore-ls); 'none' turns it off
`;
