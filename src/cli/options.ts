// The vifd command line, QEMU style. Every option may be spelled with one dash or two.

import { isLoopbackHost } from '../dashboard/access.js';
// Not the xenstore's index: the command line is parsed before anything else is loaded.
import { DOMID_FIRST_RESERVED } from '../xen/xenstore/domains.js';
import { OptionError, parseBool, parseOpts, takeKnown } from './qemu-opts.js';
import { DEFAULT_XENSTORE_SOCKET, parseXenstoreOption, XENSTORE_USAGE, type XenstoreSpec } from './xenstore-option.js';

export interface QmpEndpoint {
  path: string;
  pretty: boolean;
}

export interface GuestSpec {
  domid: number;
  name: string;
  /** Queues each of its netfronts asks for (netfront's max_queues); absent: 1. */
  queues?: number;
}

export interface NetdevSpec {
  type: string;
  props: Record<string, string | boolean>;
}

export interface DashboardSpec {
  host: string;
  port: number;
  token: string | null;
}

/**
 * Which Xen vifd's backends run on: its own emulated one (the default, as QEMU's xen-emulate
 * mode), or the hypervisor it runs on (`-accel xen`, vifd in a dom0).
 */
export type Accel = 'emulated' | 'xen';

export interface CliConfig {
  accel: Accel;
  /** -xen-domid: the frontend domain a device without frontend-id= serves (QEMU's xen_domid). */
  xenDomid: number | null;
  qmp: QmpEndpoint[];
  /** The web dashboard; null when off (`-dashboard none`, or a monitor given without it). */
  dashboard: DashboardSpec | null;
  /** True when the dashboard is the embedded default's (it then gives way if its port is taken). */
  defaultDashboard?: boolean;
  /** The xenstore wire socket; null when off (`-xenstore none`, or a monitor given without it). */
  xenstore: XenstoreSpec | null;
  guests: GuestSpec[];
  /** -datapath thread=on: vifs run their rings and tap I/O on a datapath thread. */
  datapathThread: boolean;
  /** -datapath max-queues=N: multi-queue-max-queues the vifs offer (netback's max_queues); null: one per CPU, at most 8. */
  maxQueues: number | null;
  netdevs: NetdevSpec[];
  /** -device option strings, validated later exactly like device_add. */
  devices: Array<Record<string, string>>;
  help: boolean;
  version: boolean;
  /** True when no monitor was given and the defaults apply. */
  defaultQmp: boolean;
}

export const DEFAULT_QMP_PATH = 'run/qmp.sock';
/** Where a dom0's xenstored listens (C xenstored and oxenstored alike). */
export const DEFAULT_XENSTORED_SOCKET = '/run/xenstored/socket';
export const DEFAULT_DASHBOARD: DashboardSpec = { host: '127.0.0.1', port: 8080, token: null };

/** Options that take a value, and what each becomes. */
const WITH_VALUE = new Set(['qmp', 'qmp-pretty', 'chardev', 'mon', 'guest', 'netdev', 'device', 'dashboard', 'xenstore', 'datapath',
  'accel', 'machine', 'M', 'xen-domid']);
/** QEMU's options for a real Xen that take no value. */
const FLAGS = new Set(['xen-attach']);

interface Chardev { id: string; path: string }

export function parseCommandLine(argv: readonly string[]): CliConfig {
  const cfg: CliConfig = { accel: 'emulated', xenDomid: null, qmp: [], dashboard: null, xenstore: null, guests: [],
    datapathThread: false, maxQueues: null, netdevs: [], devices: [], help: false, version: false, defaultQmp: false };
  const chardevs = new Map<string, Chardev>();
  const mons: Array<{ chardev: string; pretty: boolean }> = [];
  let dashboardGiven = false;
  let xenstoreGiven = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') throw new OptionError(arg, 'invalid option');
    const name = arg.replace(/^--?/, '');
    if (name === 'help' || name === 'h') { cfg.help = true; continue; }
    if (name === 'version') { cfg.version = true; continue; }
    // -xen-attach (libxl's way of starting a device model for a running PV guest): the real Xen.
    if (FLAGS.has(name)) { cfg.accel = 'xen'; continue; }
    if (!WITH_VALUE.has(name)) throw new OptionError(name, 'invalid option');
    const value = argv[++i];
    if (value === undefined) throw new OptionError(name, 'requires an argument');
    switch (name) {
      case 'qmp':
      case 'qmp-pretty':
        cfg.qmp.push({ path: parseQmpTarget(name, value), pretty: name === 'qmp-pretty' });
        break;
      case 'chardev': {
        const c = parseChardev(value);
        if (chardevs.has(c.id)) throw new OptionError(name, `duplicate chardev id '${c.id}'`);
        chardevs.set(c.id, c);
        break;
      }
      case 'mon':
        mons.push(parseMon(value));
        break;
      case 'guest':
        cfg.guests.push(parseGuest(value, cfg.guests));
        break;
      case 'netdev':
        cfg.netdevs.push(parseNetdev(value));
        break;
      case 'device':
        cfg.devices.push(parseDevice(value));
        break;
      case 'dashboard':
        cfg.dashboard = parseDashboard(value);
        dashboardGiven = true;
        break;
      case 'datapath':
        parseDatapath(value, cfg);
        break;
      case 'xenstore':
        if (xenstoreGiven) throw new OptionError(name, 'given twice');
        cfg.xenstore = parseXenstoreOption(value);
        xenstoreGiven = true;
        break;
      case 'accel':
        cfg.accel = parseAccel(value);
        break;
      case 'machine':
      case 'M':
        cfg.accel = parseMachine(name, value);
        break;
      case 'xen-domid':
        cfg.xenDomid = parseDomid(name, value);
        break;
    }
  }
  for (const m of mons) {
    const c = chardevs.get(m.chardev);
    if (!c) throw new OptionError('mon', `chardev '${m.chardev}' not found`);
    cfg.qmp.push({ path: c.path, pretty: m.pretty });
  }
  if (cfg.qmp.length === 0) {
    cfg.qmp.push({ path: DEFAULT_QMP_PATH, pretty: false });
    cfg.defaultQmp = true;
    // The embedded defaults (`npm start`) include the dashboard; a configured vifd asks for it.
    if (!dashboardGiven) {
      cfg.dashboard = { ...DEFAULT_DASHBOARD };
      cfg.defaultDashboard = true;
    }
    if (!xenstoreGiven && cfg.accel === 'emulated') cfg.xenstore = { socket: DEFAULT_XENSTORE_SOCKET };
  }
  if (cfg.accel === 'xen') return checkRealXen(cfg, xenstoreGiven);
  if (cfg.xenDomid !== null) throw new OptionError('xen-domid', 'needs -accel xen (the emulated platform\'s guests are -guest)');
  if (cfg.guests.length === 0) cfg.guests.push({ domid: 1, name: 'guest1' });
  return cfg;
}

/** On a real Xen the guests are the hypervisor's domains, and the xenstore is dom0's xenstored. */
function checkRealXen(cfg: CliConfig, xenstoreGiven: boolean): CliConfig {
  if (cfg.guests.length > 0) {
    throw new OptionError('guest', 'simulated guests need the emulated platform: with -accel xen the guests are the domains Xen runs');
  }
  if (cfg.xenstore?.socket !== undefined) {
    throw new OptionError('xenstore', 'socket= serves the emulated store: with -accel xen vifd uses dom0\'s xenstored (connect=PATH)');
  }
  if (!xenstoreGiven || cfg.xenstore === null) cfg.xenstore = { connect: DEFAULT_XENSTORED_SOCKET };
  return cfg;
}

function parseAccel(value: string): Accel {
  const p = parseOpts('accel', value, true);
  if (p.implied === 'xen') return 'xen';
  throw new OptionError('accel', `accelerator '${p.implied ?? ''}' is not supported: 'xen' runs the backends on the ` +
    'hypervisor vifd runs on, and without -accel vifd emulates Xen itself');
}

/** QEMU's `-machine xenpv` (what libxl passes for a PV guest's device model) means the real Xen. */
function parseMachine(option: string, value: string): Accel {
  const p = parseOpts(option, value, true);
  const type = p.implied ?? p.params.get('type');
  if (type === 'xenpv') return 'xen';
  throw new OptionError(option, `machine type '${type ?? ''}' is not supported (only xenpv, with -accel xen)`);
}

function parseDomid(option: string, value: string): number {
  const domid = Number(value);
  if (!/^\d+$/.test(value) || domid < 1 || domid >= DOMID_FIRST_RESERVED) {
    throw new OptionError(option, `domid must be an integer from 1 to ${DOMID_FIRST_RESERVED - 1}, not '${value}'`);
  }
  return domid;
}

const SOCKET_FLAGS = ['server', 'wait', 'telnet', 'websocket', 'reconnect'];

/** `unix:PATH,server=on,wait=off` (legacy `server,nowait` too). */
function parseQmpTarget(option: string, value: string): string {
  if (!value.startsWith('unix:')) throw new OptionError(option, `only unix: sockets are supported, not '${value}'`);
  const p = parseOpts(option, value.slice('unix:'.length), true, SOCKET_FLAGS);
  if (!p.implied) throw new OptionError(option, 'unix: needs a path');
  takeKnown(option, p, ['server', 'wait']);
  checkServer(option, p.params);
  return p.implied;
}

function checkServer(option: string, params: Map<string, string>): void {
  const server = params.get('server');
  if (server === undefined || !parseBool(option, 'server', server)) {
    throw new OptionError(option, 'vifd listens: server=on is required');
  }
  const wait = params.get('wait');
  if (wait !== undefined && parseBool(option, 'wait', wait)) {
    throw new OptionError(option, 'wait=on is not supported: vifd never waits for a client');
  }
}

function parseChardev(value: string): Chardev {
  const p = parseOpts('chardev', value, true, SOCKET_FLAGS);
  if (p.implied !== 'socket') throw new OptionError('chardev', `backend '${p.implied ?? ''}' is not supported (only socket)`);
  takeKnown('chardev', p, ['id', 'path', 'server', 'wait']);
  const id = p.params.get('id');
  const path = p.params.get('path');
  if (!id) throw new OptionError('chardev', "Parameter 'id' is missing");
  if (!path) throw new OptionError('chardev', 'only unix sockets (path=) are supported');
  checkServer('chardev', p.params);
  return { id, path };
}

function parseMon(value: string): { chardev: string; pretty: boolean } {
  const p = parseOpts('mon', value, false, ['pretty']);
  takeKnown('mon', p, ['chardev', 'mode', 'pretty', 'id']);
  const chardev = p.params.get('chardev');
  if (!chardev) throw new OptionError('mon', "Parameter 'chardev' is missing");
  const mode = p.params.get('mode') ?? 'readline';
  if (mode !== 'control') throw new OptionError('mon', `mode=${mode} is not supported (only mode=control)`);
  const pretty = p.params.has('pretty') ? parseBool('mon', 'pretty', p.params.get('pretty')!) : false;
  return { chardev, pretty };
}

const MAX_GUEST_QUEUES = 64;

function parseGuest(value: string, existing: GuestSpec[]): GuestSpec {
  const p = parseOpts('guest', value, false);
  takeKnown('guest', p, ['domid', 'name', 'queues']);
  const text = p.params.get('domid');
  if (text === undefined) throw new OptionError('guest', "Parameter 'domid' is missing");
  const domid = parseDomid('guest', text);
  if (existing.some((g) => g.domid === domid)) throw new OptionError('guest', `domid ${domid} given twice`);
  const spec: GuestSpec = { domid, name: p.params.get('name') ?? `guest${domid}` };
  const queues = p.params.get('queues');
  if (queues !== undefined) {
    // Linux's netfront caps max_queues at the CPUs it has; 64 is plenty for a simulated guest.
    if (!/^\d+$/.test(queues) || Number(queues) < 1 || Number(queues) > MAX_GUEST_QUEUES) {
      throw new OptionError('guest', `queues must be an integer from 1 to ${MAX_GUEST_QUEUES}, not '${queues}'`);
    }
    spec.queues = Number(queues);
  }
  return spec;
}

function parseNetdev(value: string): NetdevSpec {
  const p = parseOpts('netdev', value, true, ['vnet_hdr']);
  if (!p.implied) throw new OptionError('netdev', "Parameter 'type' is missing");
  const props: Record<string, string | boolean> = {};
  for (const [k, v] of p.params) props[k] = k === 'vnet_hdr' ? parseBool('netdev', k, v) : v;
  return { type: p.implied, props };
}

/** `HOST:PORT[,token=SECRET]` (`[V6]:PORT` for IPv6), or `none`. */
function parseDashboard(value: string): DashboardSpec | null {
  if (value === 'none' || value === 'off') return null;
  const p = parseOpts('dashboard', value, true);
  takeKnown('dashboard', p, ['token']);
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(p.implied ?? '');
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new OptionError('dashboard', `expected HOST:PORT, not '${p.implied ?? ''}'`);
  const token = p.params.get('token') ?? null;
  if (token === '') throw new OptionError('dashboard', 'token must not be empty');
  const host = (m[1] ?? m[2])!;
  if (token === null && !isLoopbackHost(host)) {
    throw new OptionError('dashboard', `${host} is not a loopback address, so token=SECRET is required`);
  }
  return { host, port, token };
}

/** Netback's XENVIF_MAX_QUEUES bounds its max_queues parameter; so does this. */
const MAX_BACKEND_QUEUES = 8;

function parseDatapath(value: string, cfg: CliConfig): void {
  const p = parseOpts('datapath', value, false);
  takeKnown('datapath', p, ['thread', 'max-queues']);
  const thread = p.params.get('thread');
  const queues = p.params.get('max-queues');
  if (thread === undefined && queues === undefined) throw new OptionError('datapath', "Parameter 'thread' or 'max-queues' is missing");
  if (thread !== undefined) cfg.datapathThread = parseBool('datapath', 'thread', thread);
  if (queues !== undefined) {
    if (!/^\d+$/.test(queues) || Number(queues) < 1 || Number(queues) > MAX_BACKEND_QUEUES) {
      throw new OptionError('datapath', `max-queues must be an integer from 1 to ${MAX_BACKEND_QUEUES}, not '${queues}'`);
    }
    cfg.maxQueues = Number(queues);
  }
}

function parseDevice(value: string): Record<string, string> {
  const p = parseOpts('device', value, true);
  if (!p.implied) throw new OptionError('device', "Parameter 'driver' is missing");
  return { driver: p.implied, ...Object.fromEntries(p.params) };
}

export const USAGE = `usage: vifd [options]

Hotplugs Xen PV network devices over QMP and runs their datapath in user space.

Monitors (repeatable; default: -qmp unix:${DEFAULT_QMP_PATH},server=on,wait=off)
  -qmp unix:PATH,server=on,wait=off       QMP on a unix socket (legacy: server,nowait)
  -qmp-pretty unix:PATH,server=on,wait=off  the same, pretty-printed
  -chardev socket,id=ID,path=PATH,server=on,wait=off
  -mon chardev=ID,mode=control[,pretty=on]

Web dashboard (default with the default monitor: -dashboard 127.0.0.1:8080)
  -dashboard HOST:PORT[,token=SECRET]     the page and QMP over WebSocket; a non-loopback
                                          address requires a token; 'none' turns it off

${XENSTORE_USAGE}
A real Xen (vifd in dom0)
  -accel xen                              serve the domains of the hypervisor vifd runs on: dom0's
                                          xenstored, /dev/xen/gntdev and /dev/xen/evtchn
                                          (-machine xenpv and -xen-attach, as libxl passes QEMU, too)
  -xen-domid N                            the domain a device without frontend-id= serves

Emulated Xen platform (the default)
  -guest domid=N[,name=NAME][,queues=N]   a simulated guest domain (repeatable; default domid=1);
                                          queues= per netfront (default 1, capped by the backend)
  -datapath thread=on|off                 run the vifs' rings and tap I/O on a thread of their own
                                          (QEMU's iothread), beside the guests and the control
                                          plane (default off; vifs on hubs and sockets stay on
                                          the main thread)
  -datapath max-queues=N                  the queues a vif offers its frontend (netback's
                                          max_queues; default one per CPU, at most 8)

Network
  -netdev tap,id=ID[,ifname=NAME][,script=PATH|no][,downscript=PATH|no][,vnet_hdr=on]
  -netdev hubport,id=ID,hubid=N           vifs on one hub reach each other without a tap
  -netdev dgram,id=ID,remote.type=inet|unix,...[,local.type=...]
  -netdev stream,id=ID,addr.type=inet|unix,...[,server=on][,reconnect-ms=N]
  -device xen-net-device[,id=ID][,mac=MAC][,idx=N][,netdev=ID][,frontend-id=N]
                                          cold-plugged, validated exactly like device_add

  vifd shell [-H] [-p] [-v] PATH          an interactive QMP client (qmp-shell's syntax)

  -version                                print the version and exit
  -help                                   print this help and exit
`;
