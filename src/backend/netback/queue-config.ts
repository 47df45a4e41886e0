// What netback's connect() reads from the frontend before mapping anything (xenbus.c connect,
// connect_data_rings, read_xenbus_vif_flags): the number of queues, the rx-copy and rx-notify
// flags, the offload flags, and per queue its two ring refs and one event channel or a split
// pair. With one queue the keys sit flat in the frontend directory; with several, under
// `queue-<N>/`.

import { EINVAL, ENOENT } from '../../common/errno.js';
import { readKeys, type XsHandle } from '../../xen/xenstore/index.js';
import { ConnectFatal } from '../connect-fatal.js';
import { NO_RX_FEATURES, type RxFeatures } from './offload.js';

export interface QueueKeys {
  id: number;
  txRef: number;
  rxRef: number;
  /** The frontend's ports; the same one twice without split event channels. */
  txPort: number;
  rxPort: number;
  split: boolean;
}

export interface FrontendConfig {
  queues: QueueKeys[];
  /** feature-rx-notify: the frontend raises the rx channel when it posts rx requests past req_event. */
  rxNotify: boolean;
  /** What the frontend takes on rx (and so what the peer may hand over). */
  features: RxFeatures;
}

/** The keys of one directory as one pipelined read took them: undefined where a node does not exist. */
type Keys = Readonly<Record<string, string | undefined>>;

/** The frontend's flags, read together. */
const FLAG_KEYS = ['multi-queue-num-queues', 'request-rx-copy', 'feature-rx-notify', 'feature-sg', 'feature-gso-tcpv4',
  'feature-gso-tcpv6', 'feature-no-csum-offload', 'feature-ipv6-csum-offload'] as const;
/** One queue's keys (flat with one queue, under queue-<N>/ with several). */
const QUEUE_KEYS = ['tx-ring-ref', 'rx-ring-ref', 'event-channel-tx', 'event-channel-rx', 'event-channel'] as const;

function unsigned(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/**
 * xenbus_read_unsigned(): sscanf's "%u" (leading blanks, a sign, digits; a negative number
 * wraps to a large one), or `fallback` when there is no number at all.
 */
function unsignedOr(text: string | undefined, fallback: number): number {
  const m = /^\s*([+-]?)(\d+)/.exec(text ?? '');
  if (!m) return fallback;
  const n = Number(BigInt(m[2]!) % 2n ** 32n);
  return m[1] === '-' ? (2 ** 32 - n) % 2 ** 32 : n;
}

/** xenbus_gather's errno: ENOENT when a key is missing, EINVAL when one is there but no number. */
function missingOrBad(keys: Keys, names: string[]): number {
  return names.some((k) => keys[k] === undefined) ? ENOENT : EINVAL;
}

/**
 * The offload keys: IPv4 checksum offload unless the frontend says feature-no-csum-offload; the
 * rest only when it says so, and only with a peer that can carry offloaded frames at all.
 */
function offloads(keys: Keys, peerVnetHdr: boolean): RxFeatures {
  const flag = (key: string) => keys[key] === '1';
  const sg = flag('feature-sg');
  if (!peerVnetHdr) return { ...NO_RX_FEATURES, sg };
  return {
    sg,
    gsoTcpv4: flag('feature-gso-tcpv4'),
    gsoTcpv6: flag('feature-gso-tcpv6'),
    ipCsum: !flag('feature-no-csum-offload'),
    ipv6Csum: flag('feature-ipv6-csum-offload'),
  };
}

/**
 * Throws ConnectFatal with netback's message for whatever the frontend got wrong. The keys are
 * read a directory at a time, pipelined: a dom0's xenstored answers them in one wait.
 */
export function readFrontendConfig(xs: XsHandle, fe: string, maxQueues: number, peerVnetHdr: boolean): FrontendConfig {
  const flags = readKeys(xs, fe, [...FLAG_KEYS, ...QUEUE_KEYS]);
  const requested = unsignedOr(flags['multi-queue-num-queues'], 1);
  if (requested === 0 || requested > maxQueues) {
    throw new ConnectFatal(EINVAL, `guest requested ${requested} queues, but valid range is 1 - ${maxQueues}.`);
  }
  // QEMU's check and text; not a xenbus_dev_fatal (netback ignores what read_xenbus_vif_flags says).
  if (flags['request-rx-copy'] !== '1') throw new Error("frontend doesn't support rx-copy");
  const rxNotify = unsignedOr(flags['feature-rx-notify'], 0) !== 0;
  const dirs = Array.from({ length: requested }, (_, id) => (requested === 1 ? fe : `${fe}/queue-${id}`));
  const perQueue = requested === 1 ? [flags] : readQueueKeys(xs, dirs);
  const queues: QueueKeys[] = [];
  for (let id = 0; id < requested; id++) {
    const dir = dirs[id]!;
    const keys = perQueue[id]!;
    const txRef = unsigned(keys['tx-ring-ref']);
    const rxRef = unsigned(keys['rx-ring-ref']);
    if (txRef === undefined || rxRef === undefined) {
      throw new ConnectFatal(missingOrBad(keys, ['tx-ring-ref', 'rx-ring-ref']), `reading ${dir}/ring-ref`);
    }
    // Split channels first, then one channel, as connect_data_rings tries them.
    const txPort = unsigned(keys['event-channel-tx']);
    const rxPort = unsigned(keys['event-channel-rx']);
    if (txPort !== undefined && rxPort !== undefined) {
      queues.push({ id, txRef, rxRef, txPort, rxPort, split: true });
      continue;
    }
    const port = unsigned(keys['event-channel']);
    if (port === undefined) {
      throw new ConnectFatal(missingOrBad(keys, ['event-channel']), `reading ${dir}/event-channel(-tx/rx)`);
    }
    queues.push({ id, txRef, rxRef, txPort: port, rxPort: port, split: false });
  }
  return { queues, rxNotify, features: offloads(flags, peerVnetHdr) };
}

/** Every queue's keys in one pipelined read. */
function readQueueKeys(xs: XsHandle, dirs: string[]): Keys[] {
  const values = xs.readStrings(dirs.flatMap((d) => QUEUE_KEYS.map((k) => `${d}/${k}`)));
  return dirs.map((_, q) => Object.fromEntries(QUEUE_KEYS.map((k, i) => [k, values[q * QUEUE_KEYS.length + i]])));
}
