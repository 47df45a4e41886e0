// What the object tree holds for each device, whatever its type.

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
}
