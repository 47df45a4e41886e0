// The command table. Every command is declared in schema/commands; its arguments are validated
// with ajv against that schema before the handler runs, so no handler sees bad input and no
// side effect happens before validation.

import { argumentError, floatForIntegerError } from '../schema/qapi-errors.js';
import { schemas, type SchemaEntry } from '../schema/registry.js';
import { qdictKeyOrder } from './json-writer.js';
import { isJsonFloat } from './plain.js';

export type Args = Record<string, unknown>;

export interface CommandContext {
  /** The session the command arrived on (for commands that act on it). */
  readonly sessionId: number;
  /**
   * The parser's arguments when they hold a float token, for commands that validate their own
   * arguments (validate: false) and must refuse 1.0 for an integer as QEMU does.
   */
  readonly raw?: unknown;
}

export type Handler = (args: Args, ctx: CommandContext) => unknown | Promise<unknown>;

export interface CommandDef {
  readonly name: string;
  readonly entry: SchemaEntry;
  readonly handler: Handler;
  readonly allowOob: boolean;
  /** False for commands that parse their own arguments (QEMU's 'gen': false, e.g. device_add). */
  readonly validate: boolean;
}

export interface RegisterOptions {
  validate?: boolean;
}

export class Dispatcher {
  private readonly commands = new Map<string, CommandDef>();

  /** Registers a handler for a command that schema/commands declares. */
  register(name: string, handler: Handler, opts: RegisterOptions = {}): void {
    const entry = schemas().get('command', name);
    if (!entry) throw new Error(`command ${name} has no schema in schema/commands`);
    if (this.commands.has(name)) throw new Error(`command ${name} registered twice`);
    this.commands.set(name, { name, entry, handler,
      allowOob: entry.schema['x-qmp']?.['allow-oob'] === true, validate: opts.validate ?? true });
  }

  get(name: string): CommandDef | undefined {
    return this.commands.get(name);
  }

  names(): string[] {
    return [...this.commands.keys()];
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
    if (cmd.validate && !cmd.entry.validate(args)) {
      throw argumentError(cmd.entry.schema, args, cmd.entry.validate.errors, qdictKeyOrder);
    }
    return cmd.handler(args, raw !== undefined && !cmd.validate ? { ...ctx, raw } : ctx);
  }

  /** Commands registered but missing from schema/ cannot exist (register refuses); this lists the reverse. */
  unimplemented(): string[] {
    return schemas().list('command').map((e) => e.name).filter((n) => !this.commands.has(n));
  }
}
