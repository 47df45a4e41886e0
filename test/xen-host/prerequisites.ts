// What booting the real-Xen lab needs, and why it cannot when it cannot. Checked before any
// real-Xen suite runs (synchronously, in milliseconds: files and programs, nothing booted), so
// a suite that cannot run says why in one line instead of timing out somewhere in a boot.

import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: dom0 runs node, vifd and the harness's scripts straight from it over 9p. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The harness's files that are not TypeScript (dom0 and domU scripts). */
export const HARNESS = join(REPO, 'test/xen-host');

/** Must match FORMAT in scripts/xen-host-setup.sh. */
const CACHE_FORMAT = '1';
const SETUP = 'scripts/xen-host-setup.sh';

/** What scripts/xen-host-setup.sh leaves in its cache. */
export interface XenHostCache {
  dir: string;
  /** Xen itself, uncompressed (QEMU's multiboot loader takes no gzip). */
  xen: string;
  /** The kernel's ELF image, for dom0 and the domUs alike. */
  vmlinux: string;
  dom0Base: string;
  domUBase: string;
  /** The busybox the domUs run, for identical tools (nc, ping) on dom0's side. */
  busybox: string;
  /** The extracted kernel package: lib/modules/<kernel> for modprobe in dom0. */
  root: string;
  kernel: string;
}

export function cacheDir(): string {
  return process.env['VIFD_XEN_HOST_CACHE'] ?? '/var/cache/vifd-xen-host';
}

/** The cache's files, or why there is no usable cache. */
export function readCache(dir = cacheDir()): XenHostCache | string {
  let ready: string;
  try {
    ready = readFileSync(join(dir, 'READY'), 'utf8');
  } catch {
    return `no Xen image cache in ${dir} (run ${SETUP} as root)`;
  }
  const fields = new Map(ready.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  if (fields.get('format') !== CACHE_FORMAT) return `the Xen image cache in ${dir} is from another version of ${SETUP}: run it again`;
  const pkg = fields.get('kernel-package') ?? '';
  const cache: XenHostCache = {
    dir,
    xen: join(dir, 'xen'),
    vmlinux: join(dir, 'vmlinux'),
    dom0Base: join(dir, 'dom0-base.cpio.gz'),
    domUBase: join(dir, 'domU-base.cpio.gz'),
    busybox: join(dir, 'root/bin/busybox'),
    root: join(dir, 'root'),
    kernel: pkg.replace(/^linux-image-/, ''),
  };
  for (const f of [cache.xen, cache.vmlinux, cache.dom0Base, cache.domUBase, cache.busybox]) {
    if (!existsSync(f)) return `${f} is missing from the Xen image cache (run ${SETUP} again)`;
  }
  return cache;
}

/** Programs on the host's root: QEMU runs here, the rest runs in dom0 from the same root. */
const PROGRAMS: Array<[string, string]> = [
  ['/usr/bin/qemu-system-x86_64', 'qemu-system-x86'],
  ['/usr/sbin/xl', 'xen-utils-4.17'],
  ['/usr/lib/xen-4.17/bin/xenstored', 'xen-utils-4.17'],
  ['/usr/lib/xen-4.17/bin/xenconsoled', 'xen-utils-4.17'],
  ['/usr/bin/xenstore-read', 'xenstore-utils'],
  ['/usr/bin/python3', 'python3'],
];

/** Null when the lab can boot here; otherwise one sentence saying why not. */
export function whyNoXenHost(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'needs an x86-64 Linux host';
  if (process.getuid?.() !== 0) return 'needs root (9p passthrough of /, QEMU, the cache)';
  const missing = PROGRAMS.filter(([path]) => !executable(path)).map(([path, pkg]) => `${path} (${pkg})`);
  if (missing.length > 0) return `missing ${missing.join(', ')}: run ${SETUP} as root`;
  const cache = readCache();
  if (typeof cache === 'string') return cache;
  // Paths travel on kernel command lines and in QEMU's comma-separated -initrd list.
  for (const path of [REPO, tmpdir(), cache.dir]) {
    if (/[\s,]/.test(path)) return `path '${path}' has whitespace or a comma, which cannot travel on a kernel command line`;
  }
  return null;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
