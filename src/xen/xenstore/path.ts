// Xenstore paths: validation, resolution of relative paths, and the component-boundary arithmetic
// that watches and subtree operations rely on. The rules are C xenstored 4.17's
// (`canonicalize()` + `is_valid_nodename()` in tools/xenstore/xenstored_core.c, `check_watch_path()`
// in xenstored_watch.c; docs/misc/xenstore.txt on paths).

import { XsError } from './errors.js';

/** Spec limits (xs_wire.h). cx enforces its own, tighter rule instead (see `pathLengthOk`). */
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

/** cx's default `-M/--path-max`, which is also its cap. */
export const DEFAULT_PATH_MAX = 2048;

export const INTRODUCE_DOMAIN = '@introduceDomain';
export const RELEASE_DOMAIN = '@releaseDomain';
export const SPECIAL_PATHS: readonly string[] = [INTRODUCE_DOMAIN, RELEASE_DOMAIN];

const VALID_CHARS = /^[A-Za-z0-9\-/_@]*$/;
// `sscanf(node, "/local/domain/%5u/%n", ...)`: at most five digits, and the slash must follow.
const LOCAL_DOMAIN_PREFIX = /^\/local\/domain\/[0-9]{1,5}\//;

export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

export function isSpecialPath(path: string): boolean {
  return path.startsWith('@');
}

/**
 * cx counts the length after a leading `/local/domain/<id>/`, so every domain has the same
 * budget below its home: `/` + 2047 chars is fine, `/` + 2048 is not, and
 * `/local/domain/0/` + 2048 chars is fine.
 */
function pathLengthOk(path: string, pathMax: number): boolean {
  const prefix = LOCAL_DOMAIN_PREFIX.exec(path);
  const counted = path.length - (prefix ? prefix[0].length : 0);
  return counted <= pathMax;
}

/** Why `path` is not an acceptable absolute node name, or undefined if it is one. */
export function nodePathProblem(path: string, pathMax = DEFAULT_PATH_MAX): string | undefined {
  if (path.startsWith('@')) return 'special paths only take watches and permissions';
  if (!path.startsWith('/')) return 'not absolute';
  if (path.endsWith('/') && path !== '/') return 'trailing slash';
  if (path.includes('//')) return 'empty component';
  if (!pathLengthOk(path, pathMax)) return `longer than ${pathMax} characters below the domain's home`;
  if (!VALID_CHARS.test(path)) return 'characters other than A-Z a-z 0-9 - / _ @';
  return undefined;
}

/** Is `path` an acceptable absolute node name (not a special `@` path)? */
export function isValidNodePath(path: string, pathMax = DEFAULT_PATH_MAX): boolean {
  return nodePathProblem(path, pathMax) === undefined;
}

/**
 * Absolute node path for a request of `domid`. Relative paths hang below the connection's home
 * `/local/domain/<domid>` (cx does this for dom0 sockets too, and test-xenstore relies on it).
 * Special `@` paths are not nodes: EINVAL here, the callers that accept them check first.
 */
export function resolveNodePath(input: string, domid: number, pathMax = DEFAULT_PATH_MAX): string {
  const path = input.startsWith('/') || input.startsWith('@') ? input : `${domainPath(domid)}/${input}`;
  const problem = nodePathProblem(path, pathMax);
  if (problem) throw new XsError('EINVAL', `invalid path (${problem})`);
  return path;
}

export interface WatchPath {
  /** Absolute path, or the `@` name itself. */
  readonly path: string;
  /** The watch was given relative; its events are reported relative too. */
  readonly relative: boolean;
}

/**
 * Watches additionally accept any `@name` up to XENSTORE_REL_PATH_MAX characters (cx checks
 * nothing else about them); only `@introduceDomain` and `@releaseDomain` ever fire after the
 * initial event.
 */
export function resolveWatchPath(input: string, domid: number, pathMax = DEFAULT_PATH_MAX): WatchPath {
  if (input.startsWith('@')) {
    if (input.length > XENSTORE_REL_PATH_MAX) {
      throw new XsError('EINVAL', `invalid watch path (longer than ${XENSTORE_REL_PATH_MAX} characters)`);
    }
    return { path: input, relative: false };
  }
  return { path: resolveNodePath(input, domid, pathMax), relative: !input.startsWith('/') };
}

/** The path a relative watch of `domid` reports for the absolute `path`. */
export function relativeToDomain(path: string, domid: number): string {
  const home = domainPath(domid);
  if (!path.startsWith(home)) return path;
  const rest = path.slice(home.length);
  return rest.startsWith('/') ? rest.slice(1) : rest;
}

export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/**
 * Is `path` equal to `ancestor` or below it on a component boundary (`/w/ab` is not below `/w/a`)?
 * `/` is an ancestor of everything, even of `@` names: cx's `is_child()` special-cases it, so a
 * watch on `/` also sees `@introduceDomain` and `@releaseDomain`.
 */
export function isSameOrDescendant(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  if (!path.startsWith(ancestor)) return false;
  return path.length === ancestor.length || path.charCodeAt(ancestor.length) === 0x2f;
}

/** Every proper ancestor of an absolute path, nearest first, ending with `/`. */
export function* ancestorsOf(path: string): Generator<string> {
  let p = path;
  while (p !== '/') {
    p = parentPath(p);
    yield p;
  }
}

/** Keeps error messages readable whatever a guest sends. */
export function printable(s: string, max = 80): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  return cut.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
