// Commands about the server itself: qmp_capabilities (its negotiation is the session's job),
// query-version, query-status, query-name, query-commands, query-qmp-schema, quit.

import { QapiIntrospection, type SchemaInfo } from '../../schema/qapi-introspect.js';
import { schemas } from '../../schema/registry.js';
import type { CommandReturns } from '../../schema/types.js';
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
  // Constant replies are deeply frozen: the writer prints a frozen value once (json-writer.ts).
  const version = deepFreeze(structuredClone(host.version));
  d.register('query-version', () => version);
  // vifd has no vCPUs to stop: it runs from start to quit, and has no -name.
  const status = deepFreeze<CommandReturns<'query-status'>>({ running: true, status: 'running' });
  d.register('query-status', () => status);
  d.register('query-name', () => ({}));
  d.register('query-commands', () => d.names().map((name) => ({ name })));
  // Generated once, on first use, when every command has been registered.
  let schemaInfo: SchemaInfo[] | undefined;
  d.register('query-qmp-schema', () => {
    schemaInfo ??= deepFreeze(QapiIntrospection.generate(d.entries(), schemas().list('event')));
    return schemaInfo;
  });
  d.register('quit', () => {
    host.requestShutdown('host-qmp-quit');
    return {};
  });
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
