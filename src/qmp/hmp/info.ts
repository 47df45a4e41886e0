// HMP's `info network`, `info qtree` and `info version`, in QEMU's formats (net/net.c
// hmp_info_network with net/hub.c net_hub_info; qdev-monitor.c qtree; hmp_info_version).
// Lines end in "\n" here; the command layer turns them into the monitor's "\r\n".

import type { NetdevRegistry } from '../../backend/net/netdevs.js';
import type { NetClient } from '../../backend/net/net-client.js';
import type { DeviceManager } from '../../devices/device-manager.js';
import { XEN_NET_DEVICE, XenNetDeviceModel } from '../../devices/xen-net-device.js';
import type { VersionInfo } from '../server.js';

/** QEMU's print_net_client: `name: index=0,type=T,INFO`. */
function clientLine(name: string, type: string, info: string): string {
  return `${name}: index=0,type=${type},${info}\n`;
}

function netdevLine(name: string, c: NetClient): string {
  return clientLine(name, c.type, c.describe());
}

interface Nic { name: string; dev: XenNetDeviceModel }

/** NIC names as QEMU gives them: the device id, or `<model>.<n>` for anonymous devices. */
function nics(devices: DeviceManager): Nic[] {
  let anon = 0;
  return devices.list().filter((d): d is XenNetDeviceModel => d instanceof XenNetDeviceModel)
    .map((dev) => ({ name: dev.id ?? `${XEN_NET_DEVICE}.${anon++}`, dev }));
}

function nicLine(n: Nic): string {
  return clientLine(n.name, 'nic', `model=${XEN_NET_DEVICE},macaddr=${n.dev.properties()['mac'] as string}`);
}

export function infoNetwork(devices: DeviceManager, netdevs: NetdevRegistry): string {
  const all = nics(devices);
  const byPeer = new Map<NetClient, Nic>();
  for (const n of all) if (n.dev.backend.peer) byPeer.set(n.dev.backend.peer, n);
  const onHub = new Set<Nic>();
  const ownedByPort = new Map(netdevs.list().filter((n) => n.owner?.startsWith('hubport:')).map((n) => [n.owner!.slice(8), n]));
  let out = '';
  for (const hub of netdevs.hubs.list()) {
    out += `hub ${hub.id}\n`;
    for (const port of hub.ports) {
      out += ` \\ ${netdevLine(port.id, port)}`;
      const nic = byPeer.get(port);
      if (nic) {
        onHub.add(nic);
        out += `    \\ ${nicLine(nic)}`;
      }
      const peer = ownedByPort.get(port.id);
      if (peer) out += `    \\ ${netdevLine(peer.id, peer.client)}`;
    }
  }
  // Netdevs with no device are listed on their own; one a NIC uses is listed under it.
  for (const { id, client } of netdevs.list()) {
    if (client.type === 'hubport' || byPeer.has(client) || netdevs.ownerOf(id)?.startsWith('hubport:')) continue;
    out += netdevLine(id, client);
  }
  for (const nic of all) {
    if (onHub.has(nic)) continue;
    out += nicLine(nic);
    const peer = nic.dev.backend.peer;
    if (peer) out += ` \\ ${netdevLine(nic.dev.netdev ?? peer.id, peer)}`;
  }
  return out;
}

/** Properties the way qdev prints them: integers with their hex, strings quoted. */
function qtreeProps(dev: XenNetDeviceModel, indent: string): string {
  const p = dev.properties();
  const int = (v: number) => `${v} (0x${(v >>> 0).toString(16)})`;
  return `${indent}frontend-id = ${int(p['frontend-id'] as number)}\n` +
    `${indent}netdev = "${dev.netdev ?? ''}"\n` +
    `${indent}idx = ${int(p['idx'] as number)}\n` +
    `${indent}mac = "${p['mac'] as string}"\n`;
}

export function infoQtree(devices: DeviceManager): string {
  let out = 'bus: main-system-bus\n  type System\n  dev: xen-bridge, id ""\n    bus: xen-bus.0\n      type xen-bus\n';
  for (const n of nics(devices)) {
    out += `      dev: ${XEN_NET_DEVICE}, id "${n.dev.id ?? ''}"\n`;
    out += qtreeProps(n.dev, '        ');
  }
  return out;
}

/** hmp_info_version: the version and the package string, with nothing between them. */
export function infoVersion(v: VersionInfo): string {
  return `${v.qemu.major}.${v.qemu.minor}.${v.qemu.micro}${v.package}\n`;
}
