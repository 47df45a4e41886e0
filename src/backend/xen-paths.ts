// Every xenstore path a backend uses, built in one place (QEMU's xen-bus does the same).

import { domainPathOf } from '../xen/paths.js';

export interface DeviceAddress {
  /** Backend type, e.g. `qnic`. */
  type: string;
  /** Frontend device class, e.g. `vif`. */
  frontendClass: string;
  backendDomid: number;
  frontendId: number;
  devid: number;
}

export function backendAreaPath(backendDomid: number, type: string): string {
  return `${domainPathOf(backendDomid)}/backend/${type}`;
}

export function backendPath(a: DeviceAddress): string {
  return `${backendAreaPath(a.backendDomid, a.type)}/${a.frontendId}/${a.devid}`;
}

export function frontendPath(a: DeviceAddress): string {
  return `${frontendClassPath(a.frontendId, a.frontendClass)}/${a.devid}`;
}

export function frontendClassPath(frontendId: number, frontendClass: string): string {
  return `${domainPathOf(frontendId)}/device/${frontendClass}`;
}

/** Where xenbus_dev_fatal reports a device's fatal error: `error/<nodename>/error` of the backend domain. */
export function errorPath(a: DeviceAddress): string {
  return `${domainPathOf(a.backendDomid)}/error/backend/${a.type}/${a.frontendId}/${a.devid}/error`;
}

/** The device's name in logs and traces: `qnic/1/0`. */
export function deviceName(a: DeviceAddress): string {
  return `${a.type}/${a.frontendId}/${a.devid}`;
}
