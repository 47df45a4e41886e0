// The TypeScript side of schema/: what QMP's boundaries take and give, by command and event
// name. The types themselves are generated from the JSON files before every build
// (scripts/gen-schema-types.mjs → generated/schema-types.ts, not kept in git); nothing here
// restates a schema, so a schema change that code ignores is a compile error where the code is.
// A bare `tsc` does not run the generator: after changing schema/ (or in a checkout that has
// not built yet), `npm run build` or `node scripts/gen-schema-types.mjs` first.

import type { QmpCommands, QmpEvents } from './generated/schema-types.js';

export type { QmpCommands, QmpDevices, QmpEvents, QmpNetdevs } from './generated/schema-types.js';

/** A command schema/commands declares. */
export type CommandName = keyof QmpCommands & string;
/** Its arguments once ajv has checked them against schema/commands/<N>.json. */
export type CommandArgs<N extends CommandName> = QmpCommands[N]['args'];
/** What it returns: the schema's `x-qmp.returns` (`{}` when it has none). */
export type CommandReturns<N extends CommandName> = QmpCommands[N]['returns'];

/** An event schema/events declares. */
export type EventName = keyof QmpEvents & string;
export type EventData<N extends EventName> = QmpEvents[N];

/**
 * The members of T that schema type S does not declare, as dotted paths ('tx.extra',
 * 'queues.extra' for an array's elements); never when there are none. TypeScript checks excess
 * members of an object literal only where it meets a declared type directly, not in what a
 * callback returns, so handlers are checked with this instead. An index signature or `unknown`
 * in S lets anything through below it; a member of a union is declared if any variant declares it.
 */
export type UndeclaredMembers<T, S> =
  unknown extends S ? never
    : T extends readonly (infer E)[] ? UndeclaredMembers<E, ElementOfAny<S>>
      : T extends object
        ? string extends KeysOfAny<S> ? never
          : { [K in keyof T & string]: K extends KeysOfAny<S> ? Under<K, UndeclaredMembers<T[K], Exclude<MemberOfAny<S, K>, undefined>>> : K }[keyof T & string]
        : never;

// Distributive over a union S, so no variant is lost (a union built by inference would drop a
// variant that is a subtype of another: {name, type, default?} beside {name}).
type ElementOfAny<S> = S extends readonly (infer E)[] ? E : never;
type KeysOfAny<S> = S extends unknown ? keyof S : never;
type MemberOfAny<S, K extends PropertyKey> = S extends unknown ? (K extends keyof S ? S[K] : never) : never;
type Under<K extends string, P> = P extends string ? `${K}.${P}` : never;
