// The in-process xenstore (Xen's docs/misc/xenstore.txt): a XenStore holds the tree, domains connect to it
// and speak the xenstore requests as method calls. See store.ts and connection.ts.

export { XenStore, type XenStoreOptions, type ConnectOptions, type StoreEntry } from './store.js';
export { XsConnection, type WatchCallback } from './connection.js';
export type { XsHandle } from './handle.js';
export {
  XsError, XS_ERROR_CODES, XS_ERRNO, isXsError, isXsErrorCode, describeXsError, withXsContext, type XsErrorCode,
} from './errors.js';
export { withTransaction, writeKeys, readKeys, directoryOrEmpty, exists, DEFAULT_TRANSACTION_RETRIES } from './helpers.js';
export { DEFAULT_QUOTAS, entrySize, type Quotas } from './quota.js';
export { XENSTORE_PAYLOAD_MAX, type DirectoryPart } from './ops.js';
export {
  domainPath, isValidNodePath, isSameOrDescendant, parentPath, baseName, joinPath,
  INTRODUCE_DOMAIN, RELEASE_DOMAIN, XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX,
} from './path.js';
export { parsePerms, formatPerms, type Perm, type Perms, type PermLetter } from './perms.js';
export { DOMID_FIRST_RESERVED } from './domains.js';
