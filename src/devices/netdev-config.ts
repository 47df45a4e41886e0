// The one place a netdev configuration is checked, whoever sends it: QMP netdev_add, HMP
// netdev_add and the -netdev option all end up here. QEMU's order is kept: the common members
// (id, then type), then the type's own members against schema/netdevs/<type>.json in
// declaration order, then unknown members, then the id's syntax, then the backend itself.

import { VifdError } from '../common/errors.js';
import { NETDEV_TYPES, type NetdevConfig, type NetdevRegistry } from '../backend/net/netdevs.js';
import { argumentError } from '../schema/qapi-errors.js';
import { schemas } from '../schema/registry.js';
import { keyvalToArgs } from './keyval.js';
import { isWellFormedId } from './properties.js';

/** QEMU's NetClientDriver values; those vifd lacks are "not compiled into this binary". */
const QEMU_NETDEV_TYPES = ['none', 'nic', 'user', 'tap', 'l2tpv3', 'socket', 'stream', 'dgram', 'vde', 'bridge',
  'hubport', 'netmap', 'vhost-user', 'vhost-vdpa'];

const ADDRESS_MEMBERS: Record<string, { required: string[]; allowed: string[] }> = {
  inet: { required: ['host', 'port'], allowed: ['numeric', 'to', 'ipv4', 'ipv6', 'keep-alive', 'mptcp'] },
  unix: { required: ['path'], allowed: ['abstract', 'tight'] },
  vsock: { required: ['cid', 'port'], allowed: [] },
  fd: { required: ['str'], allowed: [] },
};

/** Checks `args` (already JSON-typed) and returns the configuration the registry opens. */
export function parseNetdevArgs(args: Record<string, unknown>): NetdevConfig {
  const id = args['id'];
  if (id === undefined) throw new VifdError('PARAM_MISSING', 'id');
  if (typeof id !== 'string') throw new VifdError('PARAM_TYPE', 'id', 'string');
  const type = args['type'];
  if (type === undefined) throw new VifdError('PARAM_MISSING', 'type');
  if (typeof type !== 'string') throw new VifdError('PARAM_TYPE', 'type', 'string');
  if (!QEMU_NETDEV_TYPES.includes(type)) throw new VifdError('NETDEV_TYPE_INVALID', type);
  const entry = (NETDEV_TYPES as readonly string[]).includes(type) ? schemas().get('netdev', type) : undefined;
  if (entry) {
    if (!entry.validate(args)) throw argumentError(entry.schema, args, entry.validate.errors);
    for (const key of ['local', 'remote', 'addr']) {
      if (args[key] !== undefined) checkAddress(key, args[key] as Record<string, unknown>);
    }
  }
  if (!isWellFormedId(id)) throw new VifdError('PARAM_NOT_IDENTIFIER', 'id');
  if (type === 'nic') throw new VifdError('PARAM_RANGE', 'type', 'a netdev backend type');
  if (!entry) throw new VifdError('NETDEV_NOT_COMPILED', type);
  return args as unknown as NetdevConfig;
}

/** The flat union inside SocketAddress: members of the chosen `type` only. */
function checkAddress(name: string, a: Record<string, unknown>): void {
  const t = a['type'] as string;
  const spec = ADDRESS_MEMBERS[t]!;
  for (const m of spec.required) if (a[m] === undefined) throw new VifdError('PARAM_MISSING', `${name}.${m}`);
  for (const m of Object.keys(a)) {
    if (m !== 'type' && !spec.required.includes(m) && !spec.allowed.includes(m)) {
      throw new VifdError('PARAM_UNEXPECTED', `${name}.${m}`);
    }
  }
  if (t === 'vsock' || t === 'fd') throw new VifdError('NETDEV_OPEN_FAILED', `${name}: ${t} addresses are not supported by vifd`);
}

/** netdev_add from any front end. */
export async function addNetdev(netdevs: NetdevRegistry, args: Record<string, unknown>): Promise<void> {
  await netdevs.add(parseNetdevArgs(args));
}


/** `-netdev TYPE,key=value,...` and HMP `netdev_add TYPE,...`: text values typed by the type's schema. */
export function netdevArgsFromKeyval(type: string, flat: ReadonlyArray<[string, string]>): Record<string, unknown> {
  return { type, ...keyvalToArgs(schemas().get('netdev', type)?.schema, flat) };
}
