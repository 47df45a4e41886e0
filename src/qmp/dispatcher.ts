// The command table. Every command is declared in schema/commands; its arguments are validated
// with ajv against that schema before the handler runs, so no handler sees bad input and no
// side effect happens before validation.
//
// Handlers are typed by the same schema (src/schema/types.ts, generated at build time): a
// handler's arguments are the schema's, and what it returns must be the schema's returns,
// with no member the schema does not declare.

import { argumentError, floatForIntegerError } from '../schema/qapi-errors.js';
import { schemas, type SchemaEntry } from '../schema/registry.js';
import type { CommandArgs, CommandName, CommandReturns, UndeclaredMembers } from '../schema/types.js';
import { qdictKeyOrder } from './json-writer.js';
import { isJsonFloat } from './plain.js';

/** A request's arguments as they came, before any check. */
export type Args = Record<string, unknown>;

export interface CommandContext {
  /** The session the command arrived on (for commands that act on it). */
  readonly sessionId: number;
  /**
   * The parser's arguments when they hold a float token, for commands that validate their own
   * arguments (registerRaw) and must refuse 1.0 for an integer as QEMU does.
   */
  readonly raw?: unknown;
}

/** What command N's handler gives: its schema's returns, at once or once a promise settles. */
export type Reply<N extends CommandName> = CommandReturns<N> | Promise<CommandReturns<N>>;

/** A handler of command N: its arguments are the schema's type, ajv having checked them. */
export type Handler<N extends CommandName> = (args: CommandArgs<N>, ctx: CommandContext) => Reply<N>;

/** A handler that checks its own arguments (QEMU's 'gen': false, e.g. device_add). */
export type RawHandler<N extends CommandName> = (args: Args, ctx: CommandContext) => Reply<N>;

/**
 * `unknown` when handler F returns only what command N's schema declares; otherwise an object
 * type no function matches, whose member names the undeclared members in the compiler's error.
 */
type DeclaredReturns<N extends CommandName, F extends (...args: never[]) => unknown> =
  [UndeclaredMembers<Awaited<ReturnType<F>>, CommandReturns<N>>] extends [never] ? unknown
    : { 'returns members its schema does not declare': UndeclaredMembers<Awaited<ReturnType<F>>, CommandReturns<N>> };

export interface CommandDef {
  readonly name: string;
  readonly entry: SchemaEntry;
  /** The handler, behind the schema's check unless it does its own (validate: false). */
  readonly call: (args: Args, ctx: CommandContext) => unknown;
  readonly allowOob: boolean;
  /** False for commands that parse their own arguments (QEMU's 'gen': false, e.g. device_add). */
  readonly validate: boolean;
}

export class Dispatcher {
  private readonly commands = new Map<string, CommandDef>();

  /**
   * Registers the handler of a command that schema/commands declares. Its arguments reach it
   * checked by ajv and typed by the schema; a member the schema drops, renames or retypes is a
   * compile error in the handler, and so is a returned member the schema does not declare.
   */
  register<N extends CommandName, F extends Handler<N>>(name: N, handler: F & DeclaredReturns<N, F>): void {
    const entry = this.entry(name);
    // Where a request's JSON becomes the schema's type: ajv has checked it against the very file
    // the type was generated from.
    const isArgs = (args: Args): args is Args & CommandArgs<N> => entry.validate(args);
    this.add(entry, true, (args, ctx) => {
      if (!isArgs(args)) throw argumentError(entry.schema, args, entry.validate.errors, qdictKeyOrder);
      return handler(args, ctx);
    });
  }

  /**
   * Registers a handler that checks its own arguments, in its own order (QEMU's 'gen': false):
   * it gets them as they came; isArgs() narrows what it has checked. Its returns are typed.
   */
  registerRaw<N extends CommandName, F extends RawHandler<N>>(name: N, handler: F & DeclaredReturns<N, F>): void {
    this.add(this.entry(name), false, handler);
  }

  /** Whether `args` are command N's arguments by its schema (its ajv validator, errors and all). */
  isArgs<N extends CommandName>(name: N, args: unknown): args is CommandArgs<N> {
    return this.entry(name).validate(args);
  }

  private entry(name: string): SchemaEntry {
    const entry = schemas().get('command', name);
    if (!entry) throw new Error(`command ${name} has no schema in schema/commands`);
    return entry;
  }

  private add(entry: SchemaEntry, validate: boolean, call: CommandDef['call']): void {
    if (this.commands.has(entry.name)) throw new Error(`command ${entry.name} registered twice`);
    this.commands.set(entry.name, { name: entry.name, entry, call,
      allowOob: entry.schema['x-qmp']?.['allow-oob'] === true, validate });
  }

  get(name: string): CommandDef | undefined {
    return this.commands.get(name);
  }

  names(): string[] {
    return [...this.commands.keys()];
  }

  /** The registered commands' schemas, in registration order (introspection's order). */
  entries(): SchemaEntry[] {
    return [...this.commands.values()].map((c) => c.entry);
  }

  /**
   * Validates and runs; throws VifdError for bad arguments. `raw`, the parser's arguments when
   * they hold a float token, is checked first: QEMU refuses 1.0 where it wants an integer.
   */
  run(cmd: CommandDef, args: Args, ctx: CommandContext, raw?: unknown): unknown | Promise<unknown> {
    if (raw !== undefined && cmd.validate) {
      const e = floatForIntegerError(cmd.entry.schema, raw, isJsonFloat);
      if (e) throw e;
    }
    return cmd.call(args, raw !== undefined && !cmd.validate ? { ...ctx, raw } : ctx);
  }

  /** Commands registered but missing from schema/ cannot exist (register refuses); this lists the reverse. */
  unimplemented(): string[] {
    return schemas().list('command').map((e) => e.name).filter((n) => !this.commands.has(n));
  }
}
