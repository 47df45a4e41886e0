// `vifd`: parse the command line, start everything, say where it is, and exit cleanly on quit
// or a signal. A bad option is one line on stderr and exit status 1. Only what the command line
// needs is loaded: `-version` and `shell` never read the server's modules (on a dom0 under
// emulation every file read counts).

import { resolve } from 'node:path';
import { isVifdError } from '../common/errors.js';
import { setLogLevel } from '../common/log.js';
import type { VifdApp } from './app.js';
import { parseCommandLine, USAGE, type CliConfig } from './options.js';
import { OptionError } from './qemu-opts.js';
import { VERSION } from './version.js';

function fail(message: string): never {
  process.stderr.write(`vifd: ${message}\n`);
  process.exit(1);
}

export async function main(argv: readonly string[]): Promise<void> {
  // `vifd shell PATH`: the interactive client (qmp-shell's syntax), not the server.
  if (argv[0] === 'shell') {
    const { shellMain } = await import('./shell/shell.js');
    process.exit(await shellMain(argv.slice(1)));
  }
  let cfg: CliConfig;
  try {
    cfg = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof OptionError) fail(err.message);
    throw err;
  }
  if (cfg.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (cfg.version) {
    process.stdout.write(`vifd ${VERSION} (QMP as QEMU 10.0.2)\n`);
    return;
  }
  if (!process.env['VIFD_LOG']) setLogLevel('info');

  let app: VifdApp;
  try {
    const { VifdApp } = await import('./app.js');
    app = new VifdApp(cfg, { onExit: () => process.exit(0) });
    await app.start();
  } catch (err) {
    fail(isVifdError(err) || err instanceof Error ? err.message : String(err));
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => app.shutdown('host-signal'));

  const lines = [`vifd ${VERSION} is running (pid ${process.pid})`];
  for (const q of cfg.qmp) lines.push(`  QMP${q.pretty ? ' (pretty)' : ''}: unix:${resolve(q.path)}`);
  if (cfg.xenstore?.socket !== undefined) lines.push(`  xenstore: unix:${resolve(cfg.xenstore.socket)}`);
  if (cfg.xenstore?.connect !== undefined) lines.push(`  xenstore: using xenstored at unix:${resolve(cfg.xenstore.connect)}`);
  if (app.dashboard) lines.push(`  dashboard: ${app.dashboard.url}`);
  for (const [domid, guest] of app.guests) lines.push(`  guest: domid ${domid} (${guest.name})`);
  if (cfg.accel === 'xen') {
    lines.push('  xen: serving the domains of the hypervisor this dom0 runs on (/dev/xen/gntdev, /dev/xen/evtchn)');
    for (const d of app.xen.domains.list()) lines.push(`  domain: domid ${d.domid}${d.name ? ` (${d.name})` : ''}`);
  }
  lines.push(`  try: socat - UNIX-CONNECT:${resolve(cfg.qmp[0]!.path)}`,
    '       {"execute":"qmp_capabilities"}',
    '       {"execute":"device_add","arguments":{"driver":"xen-net-device","id":"nic0"}}');
  process.stdout.write(lines.join('\n') + '\n');
}
