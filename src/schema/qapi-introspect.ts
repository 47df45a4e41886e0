// query-qmp-schema generated from schema/: QEMU's SchemaInfo list (qapi/introspect.json).
//
// Commands and events keep their names; every other type gets an opaque number, handed out in
// the order types are first used, as QEMU's qapi/introspect.py does ("0" is the empty object
// when the first command has no arguments). Builtins keep QEMU's names (str, int, bool, number,
// null, any) and arrays are "[<element>]".
//
// JSON Schema → QAPI:
//   string / integer / number / boolean / null / no type   → builtin str / int / number / bool / null / any
//   string with enum                                        → enum
//   array                                                   → array of its items
//   object                                                  → object; members in declaration order,
//                                                             optional ones with "default": null
//   type: [a, b] or anyOf                                   → alternate
//   x-qapi-tag + x-qapi-variants (returns only)             → object with tag and variants
// Types with the same `x-qapi-type` share one number; anonymous ones get one each, except the
// empty object, which every command without arguments or results shares (QEMU's q_empty).

import type { JsonSchema, SchemaEntry } from './registry.js';
import type { CommandReturns } from './types.js';

/** One entry of query-qmp-schema's reply: schema/commands/query-qmp-schema.json's union. */
export type SchemaInfo = CommandReturns<'query-qmp-schema'>[number];
type SchemaInfoOf<M extends SchemaInfo['meta-type']> = Extract<SchemaInfo, { 'meta-type': M }>;
type ObjectMember = SchemaInfoOf<'object'>['members'][number];

const BUILTIN_JSON_TYPE: Record<string, SchemaInfoOf<'builtin'>['json-type']> = {
  str: 'string', int: 'int', number: 'number', bool: 'boolean', null: 'null', any: 'value',
};

export class QapiIntrospection {
  private readonly names = new Map<string, string>();
  private readonly types: SchemaInfo[] = [];
  private readonly entities: SchemaInfo[] = [];
  private next = 0;

  /** Builds the whole list: commands, then events, then every type they use. */
  static generate(commands: readonly SchemaEntry[], events: readonly SchemaEntry[]): SchemaInfo[] {
    const g = new QapiIntrospection();
    // "0" is the empty object, as in QEMU (whose first command takes no arguments).
    g.use(EMPTY_OBJECT);
    for (const c of commands) g.command(c);
    for (const e of events) g.event(e);
    return [...g.entities, ...g.types];
  }

  private command(c: SchemaEntry): void {
    const q = c.schema['x-qmp'] ?? {};
    this.entities.push({
      name: c.name,
      'meta-type': 'command',
      ...(q.features && q.features.length > 0 ? { features: [...q.features] } : {}),
      'arg-type': this.argType(c.schema),
      'ret-type': this.use(q.returns ?? EMPTY_OBJECT),
      ...(q['allow-oob'] === true ? { 'allow-oob': true } : {}),
    });
  }

  private event(e: SchemaEntry): void {
    this.entities.push({ name: e.name, 'meta-type': 'event', 'arg-type': this.argType(e.schema) });
  }

  /** A command's or event's arguments are an implicit object type of its own (q_obj_<name>-arg). */
  private argType(schema: JsonSchema): string {
    if (isEmptyObject(schema)) return this.use(EMPTY_OBJECT);
    // Arguments that accept anything beyond their members (device_add) are still shown by
    // their declared members, as QEMU's 'gen': false commands are.
    const { title: _t, $id: _i, description: _d, 'x-qmp': _q, ...rest } = schema;
    return this.use(rest as JsonSchema);
  }

  /** The type name for a schema, defining the type the first time it is seen. */
  private use(s: JsonSchema): string {
    const builtin = builtinName(s);
    if (builtin !== null) return this.builtin(builtin);
    if (s.type === 'array') {
      // An array can only be named by its element ("[X]"): a name given to the array names that.
      const items = s.items ?? {};
      const named = s['x-qapi-type'] !== undefined && items['x-qapi-type'] === undefined;
      const element = this.use(named ? { ...items, 'x-qapi-type': s['x-qapi-type'] } : items);
      const name = `[${element}]`;
      if (!this.names.has(name)) {
        this.names.set(name, name);
        this.types.push({ name, 'element-type': element, 'meta-type': 'array' });
      }
      return name;
    }
    const key = isEmptyObject(s) ? 'q_empty' : s['x-qapi-type'];
    if (key !== undefined) {
      const known = this.names.get(key);
      if (known !== undefined) return known;
    }
    const name = String(this.next++);
    if (key !== undefined) this.names.set(key, name);
    // Reserve the slot before the members, so numbering follows first use as QEMU's does.
    const slot = this.types.length;
    this.types.push({ name, 'meta-type': 'object', members: [] });
    this.types[slot] = this.define(name, s);
    return name;
  }

  private builtin(name: string): string {
    if (!this.names.has(name)) {
      this.names.set(name, name);
      this.types.push({ name, 'json-type': BUILTIN_JSON_TYPE[name], 'meta-type': 'builtin' });
    }
    return name;
  }

  private define(name: string, s: JsonSchema): SchemaInfo {
    if (Array.isArray(s.enum)) {
      const values = s.enum.map(String);
      return { name, 'meta-type': 'enum', members: values.map((v) => ({ name: v })), values };
    }
    const alternatives = Array.isArray(s.type) ? s.type.map((t) => ({ ...s, type: t }))
      : Array.isArray(s.anyOf) ? s.anyOf : null;
    if (alternatives !== null) {
      return { name, 'meta-type': 'alternate', members: alternatives.map((a) => ({ type: this.use(a) })) };
    }
    const info: SchemaInfoOf<'object'> = { name, 'meta-type': 'object', members: this.members(s) };
    const tag = s['x-qapi-tag'];
    const variants = s['x-qapi-variants'];
    if (typeof tag === 'string' && variants) {
      info.tag = tag;
      info.variants = Object.entries(variants).map(([c, v]) => ({ case: c, type: this.use(v) }));
    }
    return info;
  }

  private members(s: JsonSchema): ObjectMember[] {
    const required = new Set(s.required ?? []);
    return Object.entries(s.properties ?? {}).map(([name, sub]) => {
      const m: ObjectMember = { name, type: this.use(sub) };
      if (!required.has(name)) m.default = null;
      const features = sub['x-qapi-features'];
      if (Array.isArray(features) && features.length > 0) m.features = features.map(String);
      return m;
    });
  }
}

const EMPTY_OBJECT: JsonSchema = { type: 'object', properties: {}, additionalProperties: false };

function isEmptyObject(s: JsonSchema): boolean {
  return s.type === 'object' && Object.keys(s.properties ?? {}).length === 0 && s['x-qapi-tag'] === undefined &&
    s.additionalProperties !== true;
}

function builtinName(s: JsonSchema): string | null {
  if (Array.isArray(s.enum) || Array.isArray(s.type) || s['anyOf'] !== undefined) return null;
  switch (s.type) {
    case 'string': return 'str';
    case 'integer': return 'int';
    case 'number': return 'number';
    case 'boolean': return 'bool';
    case 'null': return 'null';
    case undefined: return 'any';
    default: return null;
  }
}
