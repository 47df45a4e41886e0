// human-monitor-command: a small HMP over the same device model and netdevs as QMP, as QEMU's
// HMP handlers call the qmp_* functions. Output is the monitor's text ("\r\n" line ends);
// errors are part of it ("Error: ...") and the QMP reply is still a success, as in QEMU.

import { isVifdError, VifdError } from '../../common/errors.js';
import type { NetdevRegistry } from '../../backend/net/netdevs.js';
import type { DeviceManager } from '../../devices/device-manager.js';
import { keyvalToArgs } from '../../devices/keyval.js';
import { setLink } from '../../devices/link.js';
import { addNetdev, netdevArgsFromKeyval } from '../../devices/netdev-config.js';
import { schemas } from '../../schema/registry.js';
import type { Dispatcher } from '../dispatcher.js';
import { infoNetwork, infoQtree, infoVersion } from '../hmp/info.js';
import { commandWord, parseOptsList, takeWord } from '../hmp/parse.js';
import type { VersionInfo } from '../server.js';

export interface HmpHost {
  devices: DeviceManager;
  netdevs: NetdevRegistry;
  version: VersionInfo;
}

/** A failure of argument parsing: printed, followed by QEMU's "Try help" hint. */
class HmpUsage extends Error {}

interface HmpCommand {
  /** QEMU's name field: aliases joined with '|'. */
  name: string;
  params: string;
  help: string;
  run(rest: string, host: HmpHost): string | Promise<string>;
}

interface InfoCommand { name: string; help: string; run(host: HmpHost): string }

const INFO: InfoCommand[] = [
  { name: 'network', help: 'show the network state', run: (h) => infoNetwork(h.devices, h.netdevs) },
  { name: 'qtree', help: 'show device tree', run: (h) => infoQtree(h.devices) },
  { name: 'version', help: 'show the version of QEMU', run: (h) => infoVersion(h.version) },
];

function word(cmd: string, rest: string): string {
  const w = takeWord(rest);
  if (!w) throw new HmpUsage(`${cmd}: string expected`);
  return w.word;
}

const COMMANDS: HmpCommand[] = [
  {
    name: 'device_add', params: 'driver[,prop=value][,...]', help: 'add device, like -device on the command line',
    run(rest, h) {
      const { implied, pairs } = parseOptsList(rest);
      const driver = implied ?? pairs.find(([k]) => k === 'driver')?.[1];
      const props = keyvalToArgs(schemas().get('device', driver ?? '')?.schema, pairs.filter(([k]) => k !== 'driver'));
      h.devices.add({ ...(driver !== undefined ? { driver } : {}), ...props });
      return '';
    },
  },
  {
    name: 'device_del', params: 'device', help: 'remove device',
    run(rest, h) {
      h.devices.del(word('device_del', rest));
      return '';
    },
  },
  {
    name: 'help|?', params: '[cmd]', help: 'show the help',
    run: (rest) => help(takeWord(rest)?.word),
  },
  {
    name: 'info', params: '[subcommand]', help: 'show various information about the system state',
    run(rest, h) {
      const sub = takeWord(rest)?.word;
      if (sub === undefined) return infoHelp();
      const cmd = INFO.find((c) => c.name === sub);
      if (!cmd) return `unknown command: 'info ${sub}'\n`;
      return cmd.run(h);
    },
  },
  {
    name: 'netdev_add', params: '[tap|stream|dgram|hubport],id=str[,prop=value][,...]', help: 'add host network device',
    async run(rest, h) {
      const { implied, pairs } = parseOptsList(rest);
      const type = implied ?? pairs.find(([k]) => k === 'type')?.[1];
      const args = type !== undefined ? netdevArgsFromKeyval(type, pairs.filter(([k]) => k !== 'type'))
        : Object.fromEntries(pairs);
      await addNetdev(h.netdevs, args);
      return '';
    },
  },
  {
    name: 'netdev_del', params: 'id', help: 'remove host network device',
    run(rest, h) {
      h.netdevs.remove(word('netdev_del', rest));
      return '';
    },
  },
  {
    name: 'set_link', params: 'name on|off', help: 'change the link status of a network adapter',
    run(rest, h) {
      const name = takeWord(rest);
      if (!name) throw new HmpUsage('set_link: string expected');
      const up = takeWord(name.rest)?.word;
      if (up !== 'on' && up !== 'off') throw new HmpUsage("Expected 'on' or 'off'");
      setLink(h.devices, h.netdevs, name.word, up === 'on');
      return '';
    },
  },
];

function findCommand(name: string): HmpCommand | undefined {
  return COMMANDS.find((c) => c.name.split('|').includes(name));
}

function helpLine(prefix: string, name: string, params: string, text: string): string {
  return `${prefix}${name} ${params} -- ${text}\n`;
}

function infoHelp(): string {
  return INFO.map((c) => helpLine('info ', c.name, '', c.help)).join('');
}

function help(name: string | undefined): string {
  if (name === undefined) return COMMANDS.map((c) => helpLine('', c.name, c.params, c.help)).join('');
  if (name === 'info') return infoHelp();
  const cmd = findCommand(name);
  return cmd ? helpLine('', cmd.name, cmd.params, cmd.help) : `unknown command: '${name}'\n`;
}

/** Runs one HMP command line and returns what the monitor would print ("\n" line ends). */
export async function runHmp(host: HmpHost, line: string): Promise<string> {
  const { name, rest } = commandWord(line);
  if (name === '') return '';
  const cmd = findCommand(name);
  if (!cmd) return `unknown command: '${name}'\n`;
  try {
    return await cmd.run(rest, host);
  } catch (err) {
    if (err instanceof HmpUsage) return `${err.message}\nTry "help ${name}" for more information\n`;
    if (isVifdError(err) || err instanceof Error) return `Error: ${err.message}\n`;
    throw err;
  }
}

export function registerHmpCommand(d: Dispatcher, host: HmpHost): void {
  d.register('human-monitor-command', async (args) => {
    // There are no vCPUs; qmp-shell's HMP mode names CPU 0, which is taken to mean "any".
    const cpu = args['cpu-index'];
    if (cpu !== undefined && cpu !== 0) throw new VifdError('HMP_CPU_INDEX');
    const text = await runHmp(host, args['command-line']);
    return text.replace(/\r?\n/g, '\r\n');
  });
}
