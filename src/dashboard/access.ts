// Who may talk to the dashboard. The WebSocket is a full QMP session (device_add, quit), so:
//
// - Loopback binding, no token: only this machine can connect. A hostile web page in a local
//   browser could still try, two ways; both are refused:
//     cross-site WebSocket   evil.example's script opens ws://127.0.0.1:8080/qmp; the browser
//                            sends `Origin: http://evil.example`, which is not our origin.
//     DNS rebinding          evil.example re-resolves to 127.0.0.1, so Origin and Host agree
//                            (both evil.example); the Host is not a loopback name.
// - Any other binding: a token is required (the CLI refuses to start without one). Every HTTP
//   request and the WebSocket upgrade carry it as `?token=`, `Authorization: Bearer`, or the
//   cookie the first authorised page load sets; 401 otherwise. Origin is checked as well.

import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export const TOKEN_COOKIE = 'vifd_token';

export interface AccessPolicy {
  /** The address the dashboard listens on. */
  host: string;
  token: string | null;
}

export interface RequestFacts {
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

export type AccessDecision =
  | { ok: true; setCookie: boolean }
  | { ok: false; status: 401 | 403; reason: string };

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

function header(facts: RequestFacts, name: string): string | undefined {
  const v = facts.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The host name of a Host header value (`name:port`, `[v6]:port`). */
export function hostNameOf(hostHeader: string): string {
  const m = /^\[([^\]]*)\](?::\d+)?$/.exec(hostHeader);
  if (m) return m[1]!;
  const colon = hostHeader.lastIndexOf(':');
  return colon >= 0 && hostHeader.indexOf(':') === colon ? hostHeader.slice(0, colon) : hostHeader;
}

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function tokenOf(facts: RequestFacts): { value: string | undefined; fromQuery: boolean } {
  const query = new URL(facts.url, 'http://x').searchParams.get('token');
  if (query !== null) return { value: query, fromQuery: true };
  const auth = header(facts, 'authorization');
  if (auth?.startsWith('Bearer ')) return { value: auth.slice('Bearer '.length), fromQuery: false };
  const cookie = header(facts, 'cookie');
  for (const part of cookie?.split(';') ?? []) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE) return { value: decodeURIComponent(v.join('=')), fromQuery: false };
  }
  return { value: undefined, fromQuery: false };
}

/** Every HTTP request, the WebSocket upgrade included. */
export function checkRequest(policy: AccessPolicy, facts: RequestFacts): AccessDecision {
  const host = header(facts, 'host') ?? '';
  if (policy.token === null && !isLoopbackHost(hostNameOf(host)) && hostNameOf(host) !== policy.host) {
    return { ok: false, status: 403, reason: `host '${host}' is not this dashboard` };
  }
  if (policy.token === null) return { ok: true, setCookie: false };
  const given = tokenOf(facts);
  if (given.value === undefined || !sameSecret(given.value, policy.token)) {
    return { ok: false, status: 401, reason: 'a valid token is required' };
  }
  return { ok: true, setCookie: given.fromQuery };
}

/**
 * The WebSocket upgrade: a browser always sends Origin, and it must be the dashboard's own
 * (same scheme-less host:port as the Host header). Clients that are not browsers send none.
 */
export function checkOrigin(facts: RequestFacts): AccessDecision {
  const origin = header(facts, 'origin');
  if (origin === undefined) return { ok: true, setCookie: false };
  let originHost: string;
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    originHost = u.host;
  } catch {
    return { ok: false, status: 403, reason: `origin '${origin}' is not allowed` };
  }
  const host = header(facts, 'host') ?? '';
  if (originHost.toLowerCase() !== host.toLowerCase()) {
    return { ok: false, status: 403, reason: `origin '${origin}' is not allowed` };
  }
  return { ok: true, setCookie: false };
}
