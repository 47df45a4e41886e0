// `-xenstore socket=PATH`: where vifd serves its xenstore to real Xen tools (xenstore-utils,
// pyxs, test-xenstore) over the wire protocol, as xenstored serves /var/run/xenstored/socket.
// `-xenstore connect=PATH`: vifd keeps no store of its own and uses an external xenstored (a
// dom0's, at /run/xenstored/socket) for its backends and simulated guests.
// `-xenstore none` serves nothing. Without the option, the embedded defaults (`npm start`) serve
// run/xenstored.sock; a configured vifd (one given a monitor) serves only what it is asked to.

import { OptionError, parseOpts, takeKnown } from './qemu-opts.js';

export type XenstoreSpec =
  /** The embedded store, served on a unix socket. */
  | { socket: string; connect?: undefined }
  /** An external xenstored's unix socket. */
  | { connect: string; socket?: undefined };

export const DEFAULT_XENSTORE_SOCKET = 'run/xenstored.sock';

export function parseXenstoreOption(value: string): XenstoreSpec | null {
  if (value === 'none') return null;
  const p = parseOpts('xenstore', value, false);
  takeKnown('xenstore', p, ['socket', 'connect']);
  const socket = p.params.get('socket');
  const connect = p.params.get('connect');
  if (socket !== undefined && connect !== undefined) {
    throw new OptionError('xenstore', 'socket= and connect= exclude each other (a connected vifd has no store to serve)');
  }
  if (socket === undefined && connect === undefined) throw new OptionError('xenstore', "Parameter 'socket' or 'connect' is missing");
  if (socket === '' || connect === '') throw new OptionError('xenstore', `${socket === '' ? 'socket' : 'connect'}= needs a path`);
  return connect !== undefined ? { connect } : { socket: socket! };
}

export const XENSTORE_USAGE = `Xenstore (default with the default monitor: -xenstore socket=${DEFAULT_XENSTORE_SOCKET})
  -xenstore socket=PATH                   serve the emulated xenstore on a unix socket (dom0's
                                          rights; XENSTORED_PATH=PATH xenstore-ls); 'none' turns it off
  -xenstore connect=PATH                  use an external xenstored (e.g. /run/xenstored/socket)
                                          instead of the embedded store; reconnects if it restarts
`;
