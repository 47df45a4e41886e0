// schema/ is the single source of truth for commands, events, device and netdev properties.
// This module loads every file once, compiles it with ajv, and hands out validators and the
// descriptors introspection is generated from.

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';

export type SchemaKind = 'command' | 'event' | 'device' | 'netdev';
const FOLDERS: Record<SchemaKind, string> = { command: 'commands', event: 'events', device: 'devices', netdev: 'netdevs' };

export interface JsonSchema {
  $id?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  default?: unknown;
  'x-qmp'?: QmpAnnotation;
  'x-qapi-type'?: string;
  /** A QAPI flat union (returns only): the tag member, and each tag value's own members. */
  'x-qapi-tag'?: string;
  'x-qapi-variants'?: Record<string, JsonSchema>;
  'x-qapi-features'?: string[];
  'x-qom-type'?: string;
  'x-qom-default'?: unknown;
  /** Device types: read-only live state qom-get shows beside the properties (not settable). */
  'x-qom-state'?: Record<string, JsonSchema>;
  [k: string]: unknown;
}

export interface QmpAnnotation {
  returns?: JsonSchema;
  features?: string[];
  'allow-oob'?: boolean;
  'allow-preconfig'?: boolean;
}

export interface SchemaEntry {
  kind: SchemaKind;
  name: string;
  schema: JsonSchema;
  validate: ValidateFunction;
}

/** The repository's schema/ folder, found from this module's location in src/ or dist/src/. */
export function schemaDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schema'))) return join(dir, 'schema');
    dir = resolve(dir, '..');
  }
  throw new Error('schema/ folder not found above ' + fileURLToPath(import.meta.url));
}

export class SchemaRegistry {
  private readonly entries = new Map<string, SchemaEntry>();
  readonly ajv: Ajv;

  constructor(dir = schemaDir()) {
    this.ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
    // x-qapi-tag / x-qapi-variants / x-qapi-features only feed introspection (qapi-introspect.ts).
    for (const keyword of ['x-qmp', 'x-qapi-type', 'x-qom-type', 'x-qom-default', 'x-qom-state', 'x-qapi-tag',
      'x-qapi-variants', 'x-qapi-features']) this.ajv.addKeyword(keyword);
    for (const kind of Object.keys(FOLDERS) as SchemaKind[]) {
      const folder = join(dir, FOLDERS[kind]);
      if (!existsSync(folder)) continue;
      for (const file of readdirSync(folder).filter((f) => f.endsWith('.json')).sort()) {
        const schema = JSON.parse(readFileSync(join(folder, file), 'utf8')) as JsonSchema;
        const name = file.slice(0, -'.json'.length);
        if (schema.title !== name) throw new Error(`schema ${kind}/${file}: title '${schema.title}' does not match the file name`);
        this.entries.set(`${kind}:${name}`, { kind, name, schema, validate: this.ajv.compile(schema) });
      }
    }
  }

  get(kind: SchemaKind, name: string): SchemaEntry | undefined {
    return this.entries.get(`${kind}:${name}`);
  }

  require(kind: SchemaKind, name: string): SchemaEntry {
    const e = this.get(kind, name);
    if (!e) throw new Error(`no ${kind} schema '${name}' in schema/`);
    return e;
  }

  list(kind: SchemaKind): SchemaEntry[] {
    return [...this.entries.values()].filter((e) => e.kind === kind);
  }
}

let shared: SchemaRegistry | undefined;

/** One registry per process: compiling the schemas is the expensive part. */
export function schemas(): SchemaRegistry {
  shared ??= new SchemaRegistry();
  return shared;
}
