// The error catalogue: every error vifd reports to a client has a stable code, the QMP error
// class it maps to and a message template. Layers below QMP throw VifdError with a code and the
// template's arguments; the QMP layer only reads `qmpClass` and `message`.

export type QmpErrorClass = 'GenericError' | 'CommandNotFound' | 'DeviceNotActive' | 'DeviceNotFound' |
  'KVMMissingCap';

interface CatalogueEntry { qmpClass: QmpErrorClass; template: string }

/** `%s` placeholders are filled in order. Texts are QEMU's wherever QEMU has the same error. */
export const ERROR_CATALOGUE = {
  // QMP envelope and negotiation
  JSON_PARSE: { qmpClass: 'GenericError', template: '%s' },
  QMP_NOT_OBJECT: { qmpClass: 'GenericError', template: 'QMP input must be a JSON object' },
  QMP_LACKS_EXECUTE: { qmpClass: 'GenericError', template: "QMP input lacks member 'execute'" },
  QMP_MEMBER_UNEXPECTED: { qmpClass: 'GenericError', template: "QMP input member '%s' is unexpected" },
  QMP_EXECUTE_NOT_STRING: { qmpClass: 'GenericError', template: "QMP input member '%s' must be a string" },
  QMP_ARGUMENTS_NOT_OBJECT: { qmpClass: 'GenericError', template: "QMP input member 'arguments' must be an object" },
  QMP_NEEDS_NEGOTIATION: { qmpClass: 'CommandNotFound', template: "Expecting capabilities negotiation with 'qmp_capabilities'" },
  QMP_ALREADY_NEGOTIATED: { qmpClass: 'CommandNotFound', template: 'Capabilities negotiation is already complete, command ignored' },
  QMP_NO_OOB: { qmpClass: 'GenericError', template: 'The command %s does not support OOB' },
  COMMAND_NOT_FOUND: { qmpClass: 'CommandNotFound', template: 'The command %s has not been found' },
  // argument validation (QAPI visitor texts)
  PARAM_MISSING: { qmpClass: 'GenericError', template: "Parameter '%s' is missing" },
  PARAM_UNEXPECTED: { qmpClass: 'GenericError', template: "Parameter '%s' is unexpected" },
  PARAM_TYPE: { qmpClass: 'GenericError', template: "Invalid parameter type for '%s', expected: %s" },
  PARAM_ENUM: { qmpClass: 'GenericError', template: "Parameter '%s' does not accept value '%s'" },
  PARAM_RANGE: { qmpClass: 'GenericError', template: "Parameter '%s' expects %s" },
  PARAM_NOT_IDENTIFIER: { qmpClass: 'GenericError', template: "Parameter '%s' expects an identifier" },
  // devices
  DEVICE_MODEL_INVALID: { qmpClass: 'GenericError', template: "'%s' is not a valid device model name" },
  DEVICE_TYPE_ABSTRACT: { qmpClass: 'GenericError', template: "Parameter '%s' expects a non-abstract device type" },
  BUS_NOT_FOUND: { qmpClass: 'GenericError', template: "Bus '%s' not found" },
  DEVICE_DUPLICATE_ID: { qmpClass: 'GenericError', template: "Duplicate device ID '%s'" },
  DEVICE_NOT_FOUND: { qmpClass: 'DeviceNotFound', template: "Device '%s' not found" },
  DEVICE_NOT_A_DEVICE: { qmpClass: 'GenericError', template: '%s is not a device' },
  DEVICE_UNPLUG_PENDING: { qmpClass: 'GenericError', template: 'Device %s is already in the process of unplug' },
  PROPERTY_NOT_FOUND: { qmpClass: 'GenericError', template: "Property '%s.%s' not found" },
  PROPERTY_BAD_VALUE: { qmpClass: 'GenericError', template: "Property '%s.%s' doesn't take value '%s'" },
  PROPERTY_OUT_OF_RANGE: { qmpClass: 'GenericError', template: "Property %s.%s doesn't take value %s (minimum: %s, maximum: %s)" },
  PROPERTY_NETDEV_NOT_FOUND: { qmpClass: 'GenericError', template: "Property '%s.netdev' can't find value '%s'" },
  PROPERTY_NETDEV_IN_USE: { qmpClass: 'GenericError', template: "Property '%s.netdev' can't take value '%s', it's in use" },
  XEN_NO_GUEST: { qmpClass: 'GenericError', template: 'frontend-id %s: no such guest domain' },
  XEN_VIF_INDEX_IN_USE: { qmpClass: 'GenericError', template: 'vif %s of domain %s already exists' },
  XEN_VIF_INDEX_EXHAUSTED: { qmpClass: 'GenericError', template: 'cannot find device index' },
  XEN_REALIZE_FAILED: { qmpClass: 'GenericError', template: '%s' },
  // vif datapath inspection and capture (vifd extensions)
  VIF_NOT_A_VIF: { qmpClass: 'GenericError', template: "Device '%s' is not a xen-net-device" },
  VIF_CAPTURE_ACTIVE: { qmpClass: 'GenericError', template: "Device '%s' is already capturing to '%s'" },
  VIF_CAPTURE_NOT_ACTIVE: { qmpClass: 'GenericError', template: "Device '%s' is not capturing" },
  VIF_CAPTURE_OPEN_FAILED: { qmpClass: 'GenericError', template: "Could not open capture file '%s': %s" },
  // toolstack-created backends (QEMU's xen_net_device_create texts)
  XEN_BACKEND_NO_MAC: { qmpClass: 'GenericError', template: 'no MAC address found' },
  XEN_BACKEND_BAD_MAC: { qmpClass: 'GenericError', template: 'failed to parse MAC address' },
  // QOM tree (qom-list, qom-get)
  QOM_PATH_AMBIGUOUS: { qmpClass: 'GenericError', template: "Path '%s' is ambiguous" },
  QOM_CLASS_NOT_FOUND: { qmpClass: 'DeviceNotFound', template: "Class '%s' not found" },
  // Xen event channels (xen-event-list, xen-event-inject)
  XEN_EVTCHN_INVALID_PORT: { qmpClass: 'GenericError', template: 'Invalid port %s' },
  XEN_EVTCHN_SET_FAILED: { qmpClass: 'GenericError', template: 'Failed to set port %s' },
  XEN_EVTCHN_NOT_EMULATED: { qmpClass: 'GenericError', template: 'Xen event channel emulation not enabled' },
  // netdevs
  NETDEV_DUPLICATE_ID: { qmpClass: 'GenericError', template: "Duplicate ID '%s'" },
  NETDEV_TYPE_INVALID: { qmpClass: 'GenericError', template: "Parameter 'type' does not accept value '%s'" },
  NETDEV_OPEN_FAILED: { qmpClass: 'GenericError', template: '%s' },
  NETDEV_NOT_COMPILED: { qmpClass: 'GenericError', template: "network backend '%s' is not compiled into this binary" },
  NETDEV_FD_NOT_FOUND: { qmpClass: 'GenericError', template: "File descriptor named '%s' has not been found" },
  NETDEV_TAP_INVALID_WITH_FD: { qmpClass: 'GenericError',
    template: 'ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are invalid with fd=' },
  NETDEV_SCRIPT_FAILED: { qmpClass: 'GenericError', template: 'network script %s failed with status %s' },
  // human-monitor-command
  HMP_CPU_INDEX: { qmpClass: 'GenericError', template: "Parameter 'cpu-index' expects a CPU number" },
  // xenstore
  XENSTORE_ERROR: { qmpClass: 'GenericError', template: 'xenstore %s %s failed: %s' },
  // generic
  INTERNAL: { qmpClass: 'GenericError', template: '%s' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export function formatTemplate(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%s/g, () => String(args[i++]));
}

export class VifdError extends Error {
  readonly qmpClass: QmpErrorClass;
  constructor(readonly code: ErrorCode, ...args: unknown[]) {
    const entry: CatalogueEntry = ERROR_CATALOGUE[code];
    super(formatTemplate(entry.template, args));
    this.name = 'VifdError';
    this.qmpClass = entry.qmpClass;
  }

  /** The catalogue's error for `code`, keeping what it wraps (and its stack) as its cause. */
  static wrapping(cause: unknown, code: ErrorCode, ...args: unknown[]): VifdError {
    const e = new VifdError(code, ...args);
    e.cause = cause;
    return e;
  }
}

export function isVifdError(e: unknown): e is VifdError {
  return e instanceof VifdError;
}

// Thrown values are unknown: what code reads off them is narrowed here, once, rather than cast
// where they are caught.

/** The code a thrown error carries (an errno name: XsError's, XenError's, Node's system errors'), if any. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** A thrown error's message; anything else thrown, as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
