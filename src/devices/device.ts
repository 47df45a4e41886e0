// What the object tree holds for each device, whatever its type. What only some types can do
// is an optional member: the device manager and the commands ask the device, never its class.

import type { XenDevice } from '../backend/xen-device.js';

/** A device that is a Xen backend: the bus reports its states by `backend`, named `label` (vif1.0). */
export interface XenBackedDevice {
  readonly backend: XenDevice;
  readonly label: string;
}

export interface Device {
  /** The user's id; null for anonymous devices (toolstack-created or added without id). */
  readonly id: string | null;
  readonly typeName: string;
  /** QOM path: /machine/peripheral/<id> or /machine/peripheral-anon/device[N]. */
  readonly path: string;
  readonly unplugPending: boolean;
  /** Starts an asynchronous unplug; `gone` fires when the device no longer exists. */
  requestUnplug(): void;
  onGone(fn: () => void): void;
  /** Properties for qom-get / qom-list and the dashboard. */
  properties(): Record<string, unknown>;
  /** The Xen backend behind it, for a device that is one. */
  readonly xen?: XenBackedDevice;
  /** set_link, for a NIC. */
  setLink?(up: boolean): void;
}
