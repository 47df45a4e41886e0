// The xenstore error vocabulary. The wire protocol can only carry the names of `xsd_errors[]`
// (xs_wire.h), so every failure of the store is one of them: the wire server sends `code` verbatim
// as the ERROR payload, in-process callers switch on it. Messages add the context of each layer
// ("write /local/domain/1/x: permission denied (EACCES)"); the code never changes on the way up.

/** The error names the protocol knows, in the order of `xsd_errors[]`. */
export const XS_ERROR_CODES = [
  'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO',
  'ENOTEMPTY', 'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
] as const;

export type XsErrorCode = typeof XS_ERROR_CODES[number];

/** Linux errno of each name (what libxenstore hands its callers). */
export const XS_ERRNO: Readonly<Record<XsErrorCode, number>> = {
  EINVAL: 22, EACCES: 13, EEXIST: 17, EISDIR: 21, ENOENT: 2, ENOMEM: 12, ENOSPC: 28, EIO: 5,
  ENOTEMPTY: 39, ENOSYS: 38, EROFS: 30, EBUSY: 16, EAGAIN: 11, EISCONN: 106, E2BIG: 7, EPERM: 1,
};

const DESCRIPTION: Readonly<Record<XsErrorCode, string>> = {
  EINVAL: 'invalid argument',
  EACCES: 'permission denied',
  EEXIST: 'already exists',
  EISDIR: 'is a directory',
  ENOENT: 'not found',
  ENOMEM: 'out of memory',
  ENOSPC: 'quota exceeded',
  EIO: 'input/output error',
  ENOTEMPTY: 'directory not empty',
  ENOSYS: 'not supported',
  EROFS: 'read-only',
  EBUSY: 'busy',
  EAGAIN: 'transaction conflict, try again',
  EISCONN: 'already connected',
  E2BIG: 'too big',
  EPERM: 'operation not permitted',
};

export function isXsErrorCode(name: string): name is XsErrorCode {
  return (XS_ERROR_CODES as readonly string[]).includes(name);
}

export function describeXsError(code: XsErrorCode): string {
  return DESCRIPTION[code];
}

export class XsError extends Error {
  readonly errno: number;

  /**
   * `context` says what was attempted, e.g. "read /local/domain/1/name"; it may be empty when
   * the layer above will say it.
   */
  constructor(readonly code: XsErrorCode, readonly context: string) {
    super(context ? `${context}: ${DESCRIPTION[code]} (${code})` : `${DESCRIPTION[code]} (${code})`);
    this.name = 'XsError';
    this.errno = XS_ERRNO[code];
  }

  /** The same failure seen from one layer up: the code stays, the context grows. */
  within(outer: string): XsError {
    return new XsError(this.code, this.context ? `${outer}: ${this.context}` : outer);
  }
}

export function isXsError(err: unknown, code?: XsErrorCode): err is XsError {
  return err instanceof XsError && (code === undefined || err.code === code);
}

/**
 * Runs `fn`; an XsError escaping it gets `context` prefixed, anything else passes untouched.
 * A function as `context` is only called on failure (hot paths need not format messages).
 */
export function withXsContext<T>(context: string | (() => string), fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof XsError) throw err.within(typeof context === 'string' ? context : context());
    throw err;
  }
}
