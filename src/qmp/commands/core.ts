// Commands about the server itself: qmp_capabilities (its negotiation is the session's job),
// query-version, query-commands, quit.

import type { Dispatcher } from '../dispatcher.js';
import type { VersionInfo } from '../server.js';

export interface CoreHost {
  version: VersionInfo;
  /** Emits SHUTDOWN now and tears the server down once the reply has left. */
  requestShutdown(reason: 'host-qmp-quit'): void;
}

export function registerCoreCommands(d: Dispatcher, host: CoreHost): void {
  // The session answers qmp_capabilities itself; after negotiation it is refused there too.
  d.register('qmp_capabilities', () => ({}));
  d.register('query-version', () => host.version);
  d.register('query-commands', () => d.names().map((name) => ({ name })));
  d.register('quit', () => {
    host.requestShutdown('host-qmp-quit');
    return {};
  });
}
