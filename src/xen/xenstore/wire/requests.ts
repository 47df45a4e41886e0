// One wire request onto one XsConnection, and its one reply (docs/misc/xenstore.txt, the
// message types of xen/include/public/io/xs_wire.h).
// Every request gets exactly one reply, whatever happens: the result, or an ERROR message whose
// payload is the XsError code. req_id and tx_id are echoed in both.
//
// The order of checks is cx 4.17's process_message(): unknown or server-only type → ENOSYS;
// privileged type from an unprivileged connection → EACCES; then, unless the type ignores
// tx_id (WATCH, UNWATCH, RESET_WATCHES and the domain requests), an unknown tx_id → ENOENT;
// then the payload shape; then the request itself.
//
// Payload shapes. Strings are bytes (latin1 both ways, so a watch token comes back exactly as it
// was sent); paths with bytes outside the allowed set fail path validation (EINVAL).
//   one argument       `arg\0`, the only NUL at the very end (READ, MKDIR, RM, DIRECTORY,
//                      GET_PERMS, TRANSACTION_END, GET_DOMAIN_PATH, RELEASE, RESUME,
//                      IS_DOMAIN_INTRODUCED). Anything else is EINVAL, as head/ox/qemu answer
//                      (cx 4.17 answers ENOENT for some of these through an uninitialised errno).
//   N arguments        exactly N NUL-terminated strings (WATCH/UNWATCH 2 — a third `depth` is
//                      EINVAL without the WATCHDEPTH feature —, DIRECTORY_PART 2, SET_TARGET 2,
//                      INTRODUCE 3).
//   WRITE              `path\0value`: the value is everything after the first NUL.
//   SET_PERMS          `path\0perm\0...`, at least one permission, NUL-terminated.
//   TRANSACTION_START, RESET_WATCHES   the payload is not looked at (cx).
// Replies larger than XS_PAYLOAD_MAX (a big DIRECTORY) are E2BIG; libxenstore then falls back to
// DIRECTORY_PART.

import { XsError, type XsErrorCode } from '../errors.js';
import type { XsConnection } from '../connection.js';
import { XsMsgType, XS_PAYLOAD_MAX, XS_TYPE_COUNT, type XsMessage } from './codec.js';

const T = XsMsgType;
const OK = Buffer.from('OK\0', 'latin1');

/** Types whose tx_id is ignored (cx's XS_FLAG_NOTID). */
const IGNORES_TX = new Set<number>([
  T.WATCH, T.UNWATCH, T.INTRODUCE, T.RELEASE, T.GET_DOMAIN_PATH, T.IS_DOMAIN_INTRODUCED,
  T.RESUME, T.SET_TARGET, T.RESET_WATCHES,
]);

/** Types only privileged connections may send (cx's XS_FLAG_PRIV). */
const PRIVILEGED = new Set<number>([
  T.CONTROL, T.INTRODUCE, T.RELEASE, T.IS_DOMAIN_INTRODUCED, T.RESUME, T.SET_TARGET,
]);

/** Known types vifd does not implement: CONTROL (optional), server-only and removed types, and the 4.18+ ones. */
const NOT_IMPLEMENTED = new Set<number>([
  T.CONTROL, T.WATCH_EVENT, T.ERROR, T.RESTRICT, T.GET_FEATURE, T.SET_FEATURE, T.GET_QUOTA, T.SET_QUOTA,
]);

export function isImplementedType(type: number): boolean {
  return Number.isInteger(type) && type >= 0 && type < XS_TYPE_COUNT && !NOT_IMPLEMENTED.has(type);
}

export function errorReply(request: XsMessage, code: XsErrorCode): XsMessage {
  return { type: T.ERROR, reqId: request.reqId, txId: request.txId, payload: Buffer.from(`${code}\0`, 'latin1') };
}

/** Called for failures that are not XsErrors (bugs); the client still gets its EIO. */
export type InternalErrorHandler = (err: unknown, request: XsMessage) => void;

/** Runs `request` on `conn`; returns the reply (same type, or ERROR). Never throws. */
export function handleRequest(conn: XsConnection, request: XsMessage, onInternalError?: InternalErrorHandler): XsMessage {
  let payload: Buffer;
  try {
    payload = dispatch(conn, request);
  } catch (err) {
    if (err instanceof XsError) return errorReply(request, err.code);
    onInternalError?.(err, request);
    return errorReply(request, 'EIO');
  }
  if (payload.length > XS_PAYLOAD_MAX) return errorReply(request, 'E2BIG');
  return { type: request.type, reqId: request.reqId, txId: request.txId, payload };
}

function dispatch(conn: XsConnection, req: XsMessage): Buffer {
  const type = req.type;
  if (!isImplementedType(type)) throw new XsError('ENOSYS', `message type ${type}`);
  if (PRIVILEGED.has(type) && !conn.privileged) throw new XsError('EACCES', 'privileged request');
  const tx = IGNORES_TX.has(type) ? 0 : req.txId;
  if (tx !== 0 && !conn.hasTransaction(tx)) throw new XsError('ENOENT', `no transaction ${tx}`);
  const p = req.payload;
  switch (type) {
    case T.READ:
      return conn.read(oneArg(p), tx);
    case T.WRITE: {
      const nul = p.indexOf(0);
      if (nul < 0) throw new XsError('EINVAL', 'WRITE without a NUL after the path');
      conn.write(p.toString('latin1', 0, nul), p.subarray(nul + 1), tx);
      return OK;
    }
    case T.MKDIR:
      conn.mkdir(oneArg(p), tx);
      return OK;
    case T.RM:
      conn.rm(oneArg(p), tx);
      return OK;
    case T.DIRECTORY:
      return strings(conn.directory(oneArg(p), tx));
    case T.DIRECTORY_PART: {
      const [path, offset] = args(p, 2);
      const part = conn.directoryPart(path!, decimal(offset!, 'offset'), tx);
      return Buffer.concat([Buffer.from(`${part.generation}\0`, 'latin1'), part.chunk]);
    }
    case T.GET_PERMS:
      return strings(conn.getPerms(oneArg(p), tx));
    case T.SET_PERMS: {
      const [path, ...perms] = setPermsArgs(p);
      conn.setPerms(path!, perms, tx);
      return OK;
    }
    case T.WATCH: {
      const [path, token] = args(p, 2);
      conn.watch(path!, token!);
      return OK;
    }
    case T.UNWATCH: {
      const [path, token] = args(p, 2);
      conn.unwatch(path!, token!);
      return OK;
    }
    case T.RESET_WATCHES:
      conn.resetWatches();
      return OK;
    case T.TRANSACTION_START:
      return Buffer.from(`${conn.transactionStart(req.txId)}\0`, 'latin1');
    case T.TRANSACTION_END: {
      const how = oneArg(p);
      if (how !== 'T' && how !== 'F') throw new XsError('EINVAL', 'TRANSACTION_END takes T or F');
      conn.transactionEnd(req.txId, how === 'T');
      return OK;
    }
    case T.GET_DOMAIN_PATH:
      return Buffer.from(`${conn.getDomainPath(domid(oneArg(p)))}\0`, 'latin1');
    case T.INTRODUCE: {
      const [id, gfn, port] = args(p, 3);
      decimal(gfn!, 'gfn');
      decimal(port!, 'event channel');
      conn.introduce(domid(id!));
      return OK;
    }
    case T.RELEASE:
      conn.release(domid(oneArg(p)));
      return OK;
    case T.RESUME:
      conn.resume(domid(oneArg(p)));
      return OK;
    case T.IS_DOMAIN_INTRODUCED:
      return Buffer.from(conn.isDomainIntroduced(domid(oneArg(p))) ? 'T\0' : 'F\0', 'latin1');
    case T.SET_TARGET: {
      const [id, target] = args(p, 2);
      conn.setTarget(domid(id!), domid(target!));
      return OK;
    }
    default:
      throw new XsError('ENOSYS', `message type ${type}`);
  }
}

/** `arg\0` with no other NUL. */
function oneArg(p: Buffer): string {
  const nul = p.indexOf(0);
  if (nul < 0 || nul !== p.length - 1) throw new XsError('EINVAL', 'expected one NUL-terminated argument');
  return p.toString('latin1', 0, nul);
}

/** Exactly `n` NUL-terminated strings and nothing after them. */
function args(p: Buffer, n: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < p.length) {
    const nul = p.indexOf(0, start);
    if (nul < 0) throw new XsError('EINVAL', 'argument without its terminating NUL');
    out.push(p.toString('latin1', start, nul));
    start = nul + 1;
  }
  if (out.length !== n) throw new XsError('EINVAL', `expected ${n} arguments, got ${out.length}`);
  return out;
}

function setPermsArgs(p: Buffer): string[] {
  if (p.length === 0 || p[p.length - 1] !== 0) throw new XsError('EINVAL', 'SET_PERMS must end with a NUL');
  const parts = p.toString('latin1', 0, p.length - 1).split('\0');
  if (parts.length < 2) throw new XsError('EINVAL', 'SET_PERMS needs a path and at least one permission');
  return parts;
}

function strings(list: readonly string[]): Buffer {
  return Buffer.from(list.map((s) => `${s}\0`).join(''), 'latin1');
}

function decimal(text: string, what: string): number {
  const n = Number(text);
  if (!/^[0-9]{1,10}$/.test(text) || !Number.isSafeInteger(n)) throw new XsError('EINVAL', `invalid ${what} '${text.slice(0, 20)}'`);
  return n;
}

function domid(text: string): number {
  return decimal(text, 'domain id');
}
