// QEMU's SocketAddress as -netdev dgram and -netdev stream take it (qapi/sockets.json), and the
// text forms `info network` shows.

export interface InetAddress { type: 'inet'; host: string; port: string; ipv4?: boolean; ipv6?: boolean }
export interface UnixAddress { type: 'unix'; path: string; abstract?: boolean }
export type NetSocketAddress = InetAddress | UnixAddress;

/** The port as a number; QEMU also accepts service names, vifd only numbers. */
export function inetPort(a: InetAddress): number {
  const n = Number(a.port);
  if (!/^\d+$/.test(a.port) || n > 65535) throw new Error(`port '${a.port}' is not a number from 0 to 65535`);
  return n;
}

/** Node's name for an abstract unix socket starts with a NUL byte. */
export function unixPath(a: UnixAddress): string {
  return a.abstract ? `\0${a.path}` : a.path;
}

export function addressText(a: NetSocketAddress): string {
  return a.type === 'inet' ? `${a.host}:${a.port}` : a.path;
}
