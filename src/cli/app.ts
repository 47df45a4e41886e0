// Start-up wiring: the platform (the emulated one and its guests, or the real Xen vifd runs on),
// the Xen bus, the device model, QMP and its transports, in that order (each layer only sees the
// ones below it). Shutdown unplugs every device (directories removed, taps gone) before the
// process exits.

import { resolve } from 'node:path';
import { Logger } from '../common/log.js';
import { NetdevRegistry } from '../backend/net/netdevs.js';
import { XenBus } from '../backend/xen-bus.js';
import { DeviceManager } from '../devices/device-manager.js';
import type { XenNetContext } from '../devices/xen-net-device.js';
import { Guest, type GuestOptions } from '../guest/guest.js';
import { addNetdev as addNetdevFromArgs, netdevArgsFromKeyval } from '../devices/netdev-config.js';
import { registerCoreCommands } from '../qmp/commands/core.js';
import { registerHmpCommand } from '../qmp/commands/hmp.js';
import { registerNetdevCommands } from '../qmp/commands/netdev.js';
import { registerDeviceCommands } from '../qmp/commands/devices.js';
import { registerXenstoreCommands } from '../qmp/commands/xenstore.js';
import { registerQomCommands, type QomCommands } from '../qmp/commands/qom.js';
import { registerXenCommands } from '../qmp/commands/xen.js';
import { registerDeviceListProperties } from '../qmp/commands/device-list-properties.js';
import { registerVifCommands } from '../qmp/commands/vifs.js';
import { registerVifDatapathCommands } from '../qmp/commands/vif-datapath.js';
import { registerXenstoreWatchCommands, XenstoreWatches } from '../qmp/commands/xenstore-watch.js';
import type { Dashboard } from '../dashboard/server.js';
import { Dispatcher } from '../qmp/dispatcher.js';
import { EventBus } from '../qmp/events.js';
import { QmpServer, type VersionInfo } from '../qmp/server.js';
import { UnixQmpListener } from '../qmp/transports/unix.js';
import { schemas } from '../schema/registry.js';
import { DatapathThread } from '../backend/netback/datapath-thread.js';
import type { BackendPlatform } from '../xen/backend-ops.js';
import { DOM0, EmulatedPlatform } from '../xen/emulated/platform.js';
import { HostPlatform } from '../xen/host/platform.js';
import { ExternalXenstore } from '../xen/xenstore-access.js';
import type { XsHandle } from '../xen/xenstore/index.js';
import { XenstoreSocketServer } from '../xen/xenstore/wire/server.js';
import { realDomainSummaries } from './domain-view.js';
import type { CliConfig, NetdevSpec } from './options.js';
import { VERSION } from './version.js';

export type ShutdownReason = 'host-qmp-quit' | 'host-signal';

export interface AppOptions {
  /** Replaces the default tap factory (tests run without taps this way). */
  createTap?: XenNetContext['createTap'];
  /** Called once everything is torn down (the CLI exits then). */
  onExit?: (reason: ShutdownReason) => void;
  /** multi-queue-max-queues the vifs offer (netback's max_queues); default one per CPU up to 8. */
  maxQueues?: number;
  /** Options for every simulated guest's netfronts (tests switch GSO off this way). */
  netfront?: GuestOptions['netfront'];
  /** Overrides -datapath thread= (benchmarks and tests choose this way). */
  datapathThread?: boolean;
}

export class VifdApp {
  /** What the backends run on, whichever platform it is. */
  readonly xen: BackendPlatform;
  /** The emulated platform (the default); null on a real Xen. */
  readonly emulated: EmulatedPlatform | null;
  /** The toolstack's own xenstore connection (QMP's __com.vifd_xenstore-* commands). */
  readonly xs: XsHandle;
  readonly guests = new Map<number, Guest>();
  readonly bus: XenBus;
  readonly netdevs = new NetdevRegistry();
  readonly devices: DeviceManager;
  readonly events = new EventBus();
  readonly dispatcher = new Dispatcher();
  readonly qmp: QmpServer;
  readonly listeners: UnixQmpListener[] = [];
  private readonly qom: QomCommands;
  /** The web dashboard, when -dashboard (or the defaults) asked for it. */
  dashboard: Dashboard | null = null;
  /** The xenstore wire socket (-xenstore socket=PATH). */
  xenstoreServer: XenstoreSocketServer | null = null;
  private stopping = false;
  private readonly log = new Logger('vifd');

  constructor(private readonly config: CliConfig, private readonly opts: AppOptions = {}) {
    const external = config.xenstore?.connect;
    if (config.accel === 'xen') {
      this.emulated = null;
      this.xen = new HostPlatform({ xenstored: resolve(external!) });
    } else {
      this.emulated = new EmulatedPlatform(external !== undefined ? new ExternalXenstore(resolve(external)) : undefined);
      this.xen = this.emulated;
      this.startGuests(this.emulated);
    }
    this.xs = this.xen.connectXenstore();
    this.bus = new XenBus(this.xen.connectXenstore(), this.xen);
    this.bus.maxQueues = opts.maxQueues ?? config.maxQueues ?? undefined;
    const ctx: XenNetContext = { bus: this.bus, netdevs: this.netdevs, frontends: this.frontends() };
    if (opts.createTap) ctx.createTap = opts.createTap;
    this.devices = new DeviceManager(ctx);
    this.qmp = new QmpServer(this.dispatcher, this.events, qmpVersion());
    registerCoreCommands(this.dispatcher, { version: qmpVersion(), requestShutdown: (r) => this.shutdown(r) });
    registerDeviceCommands(this.dispatcher, this.events, this.devices);
    registerXenstoreCommands(this.dispatcher, this.xs);
    registerNetdevCommands(this.dispatcher, this.events, this.netdevs, this.devices);
    registerHmpCommand(this.dispatcher, { devices: this.devices, netdevs: this.netdevs, version: qmpVersion() });
    this.qom = registerQomCommands(this.dispatcher, this.devices);
    const emulated = this.emulated;
    registerXenCommands(this.dispatcher, emulated && { evtchn: emulated.channels, backendDomid: DOM0,
      guestDomids: () => emulated.guestDomids() });
    registerDeviceListProperties(this.dispatcher);
    registerVifCommands(this.dispatcher, this.devices,
      () => (emulated ? this.guests.values() : realDomainSummaries(this.xen.domains, this.xs)));
    registerVifDatapathCommands(this.dispatcher, this.events, this.devices);
    const watches = new XenstoreWatches(this.xen.connectXenstore(), this.events);
    registerXenstoreWatchCommands(this.dispatcher, watches, this.qmp);
  }

  /** The emulated platform; an error on a real Xen (tests and tools of the emulated one use it). */
  get platform(): EmulatedPlatform {
    if (!this.emulated) throw new Error('vifd runs on a real Xen (-accel xen): there is no emulated platform');
    return this.emulated;
  }

  private startGuests(platform: EmulatedPlatform): void {
    for (const g of this.config.guests) {
      const dom = platform.createDomain(g.domid, g.name);
      const netfront = { ...this.opts.netfront, ...(g.queues !== undefined ? { queues: g.queues } : {}) };
      const guest = new Guest(dom, platform.connectGuest(g.domid), platform.channels,
        Object.keys(netfront).length > 0 ? { netfront } : {});
      guest.start().catch((err: Error) => this.log.error(`guest ${g.domid} failed to start: ${err.message}`));
      this.guests.set(g.domid, guest);
    }
  }

  /**
   * Whom a device may serve: the simulated guests (the first by default), or on a real Xen the
   * domains xenstored knows (-xen-domid by default, else the lowest), vif indexes from 1 there.
   */
  private frontends(): XenNetContext['frontends'] {
    const emulated = this.emulated;
    if (emulated) {
      return { defaultId: () => emulated.guestDomids()[0], exists: (d) => emulated.guestDomids().includes(d), firstAutoIndex: 0 };
    }
    const domains = this.xen.domains;
    return {
      defaultId: () => this.config.xenDomid ?? domains.list()[0]?.domid,
      exists: (d) => d !== this.xen.backendDomid && domains.exists(d),
      firstAutoIndex: 1,
    };
  }

  /** Creates -netdev and -device objects, then opens the monitors. Throws on the first bad one. */
  async start(): Promise<void> {
    if (this.opts.datapathThread ?? this.config.datapathThread) {
      this.bus.datapathThread = await DatapathThread.start(this.xen);
    }
    for (const n of this.config.netdevs) await this.addNetdev(n);
    for (const d of this.config.devices) this.devices.add(coerceDeviceOptions(d));
    this.qom.coldPlugDone();
    for (const q of this.config.qmp) {
      this.listeners.push(await UnixQmpListener.listen(this.qmp, { path: q.path, pretty: q.pretty }));
    }
    const xs = this.config.xenstore;
    if (xs?.socket !== undefined) {
      this.xenstoreServer = await XenstoreSocketServer.listen(this.platform.xenstore, { path: xs.socket });
    }
    // Hotplug scripts run xenstore-write against the store vifd uses, as they would against xenstored.
    const socket = xs?.socket ?? xs?.connect;
    if (socket !== undefined) this.bus.hotplugEnv = { XENSTORED_PATH: resolve(socket) };
    if (this.config.dashboard) await this.startDashboard(this.config.dashboard);
  }

  /** An explicit -dashboard that cannot listen is fatal; the default one only warns. */
  private async startDashboard(spec: NonNullable<CliConfig['dashboard']>): Promise<void> {
    try {
      // Loaded only when asked for: fastify is most of what a start-up reads from disk.
      const { Dashboard } = await import('../dashboard/server.js');
      this.dashboard = await Dashboard.listen(this.qmp, spec);
    } catch (err) {
      const message = `-dashboard ${spec.host}:${spec.port}: ${(err as Error).message}`;
      if (!this.config.defaultDashboard) throw new Error(message);
      this.log.warn(`${message}; running without the dashboard (choose another with -dashboard HOST:PORT)`);
    }
  }

  /** SHUTDOWN goes out now; the teardown waits for the reply in flight to leave. */
  shutdown(reason: ShutdownReason): void {
    if (this.stopping) return;
    this.stopping = true;
    this.events.emit('SHUTDOWN', { guest: false, reason });
    setImmediate(() => void this.teardown(reason));
  }

  private async teardown(reason: ShutdownReason): Promise<void> {
    this.log.info(`shutting down (${reason})`);
    this.qmp.closeAll();
    await Promise.all(this.listeners.map((l) => l.close()));
    await this.dashboard?.close();
    await this.xenstoreServer?.close();
    this.bus.destroyAll();
    this.bus.datapathThread?.close();
    // The backends are gone, so each guest only has to notice; bounded so exit never hangs.
    await Promise.race([
      Promise.allSettled([...this.guests.values()].map((g) => g.stop())),
      new Promise((r) => setTimeout(r, 1000).unref()),
    ]);
    this.netdevs.closeAll();
    this.xs.close();
    this.xen.close();
    this.qmp.dispose();
    this.opts.onExit?.(reason);
  }

  /** -netdev goes through the same checks as netdev_add (devices/netdev-config.ts). */
  private async addNetdev(n: NetdevSpec): Promise<void> {
    const flat = Object.entries(n.props).map(([k, v]): [string, string] => [k, typeof v === 'boolean' ? (v ? 'on' : 'off') : v]);
    try {
      await addNetdevFromArgs(this.netdevs, netdevArgsFromKeyval(n.type, flat));
    } catch (err) {
      throw new Error(`-netdev ${n.type}: ${(err as Error).message}`);
    }
  }
}

export function qmpVersion(): VersionInfo {
  // The QMP dialect spoken is QEMU 10.0.2's; `package` says who speaks it.
  return { qemu: { major: 10, minor: 0, micro: 2 }, package: `vifd ${VERSION}` };
}

/**
 * Command-line values are strings; QEMU's keyval visitor parses them by the property's type.
 * Integer properties of the driver's schema that look like integers become numbers; anything
 * else stays a string and fails validation exactly as device_add would.
 */
export function coerceDeviceOptions(d: Record<string, string>): Record<string, unknown> {
  const props = schemas().get('device', d['driver'] ?? '')?.schema.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    out[k] = props[k]?.type === 'integer' && /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}
