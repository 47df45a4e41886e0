// Xen's own oxenstored 4.17 (Debian's xen-utils-4.17) as an external dom0 xenstored, for the
// benchmark's reference run and for the tests of vifd on an external xenstored.
//
// No hypervisor runs here, so oxenstored is started with --no-domain-init under an LD_PRELOAD
// shim (compiled with gcc on the spot) that hands it dummy xenctrl / evtchn / gnttab handles
// and ignores its setrlimit (EPERM in a container). Its socket path is compiled in
// (/run/xenstored/socket), so it runs in a private mount namespace with `<dir>/run` bound
// there. C xenstored 4.17 cannot serve here: without a hypervisor it exits ("Failed to open
// connection to hypervisor"), and with --no-domain-init it dies of SIGSEGV on the first request.
// Needs root.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XsClient } from '../../src/xen/xenstore/wire/client.js';

export const OXENSTORED = '/usr/lib/xen-4.17/bin/oxenstored';

export async function waitForSocket(path: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15000;
  for (;;) {
    if (existsSync(path)) {
      try {
        (await XsClient.connect(path, { reconnect: false })).close();
        return;
      } catch { /* not listening yet */ }
    }
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const SHIM = `#include <sys/resource.h>
#include <stdlib.h>
#include <unistd.h>
static int pfd[2] = {-1, -1};
int setrlimit(__rlimit_resource_t r, const struct rlimit *l) { (void)r; (void)l; return 0; }
void *xc_interface_open(void *a, void *b, unsigned c) { (void)a; (void)b; (void)c; return malloc(64); }
void *xenevtchn_open(void *a, unsigned f) { (void)a; (void)f; if (pfd[0] < 0 && pipe(pfd) != 0) return NULL; return malloc(64); }
int xenevtchn_fd(void *h) { (void)h; return pfd[0]; }
int xenevtchn_bind_virq(void *h, unsigned v) { (void)h; (void)v; return 1; }
int xenevtchn_pending(void *h) { (void)h; return -1; }
int xenevtchn_unmask(void *h, unsigned p) { (void)h; (void)p; return 0; }
int xenevtchn_notify(void *h, unsigned p) { (void)h; (void)p; return 0; }
void *xengnttab_open(void *a, unsigned f) { (void)a; (void)f; return malloc(64); }
void *xenforeignmemory_open(void *a, unsigned f) { (void)a; (void)f; return malloc(64); }
`;

/** Starts oxenstored on `<dir>/run/socket`; returns a stop function, or throws why it cannot. */
export async function startOxenstored(dir: string): Promise<{ path: string; stop: () => Promise<void> }> {
  if (!existsSync(OXENSTORED)) throw new Error(`${OXENSTORED} not installed`);
  if (process.getuid?.() !== 0) throw new Error('needs root (mount namespace)');
  writeFileSync(join(dir, 'shim.c'), SHIM);
  execFileSync('gcc', ['-shared', '-fPIC', '-o', join(dir, 'shim.so'), join(dir, 'shim.c')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'ox.conf'), [
    `pid-file = ${join(dir, 'ox.pid')}`, 'persistent = false', `xenstored-log-file = ${join(dir, 'ox.log')}`,
    'xenstored-log-level = warn', `access-log-file = ${join(dir, 'access.log')}`, '',
  ].join('\n'));
  const run = join(dir, 'run');
  mkdirSync(run, { recursive: true });
  const mountpoint = '/run/xenstored';
  const created = !existsSync(mountpoint);
  if (created) mkdirSync(mountpoint);
  const child = spawn('unshare', ['-m', 'sh', '-c',
    `mount --bind ${run} ${mountpoint} && exec ${OXENSTORED} --no-domain-init --no-fork --no-access-log --config-file ${join(dir, 'ox.conf')}`],
  { env: { ...process.env, LD_PRELOAD: join(dir, 'shim.so') }, stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    if (created && existsSync(mountpoint)) rmdirSync(mountpoint);
  };
  try {
    await waitForSocket(join(run, 'socket'), child, 'oxenstored');
  } catch (err) {
    await stop();
    throw err;
  }
  return { path: join(run, 'socket'), stop };
}

