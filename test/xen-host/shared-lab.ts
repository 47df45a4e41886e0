// One lab for a whole test run: the first real-Xen suite that needs it boots it, every other
// one reuses it, and the root hook in test/support/xen-host.ts powers it off at the end. All
// real-Xen test files together so cost one boot (~15 s), plus whatever their domUs take.
//
//   describeXen('netback on real Xen', function () {
//     let lab: Lab;
//     before(async () => { lab = await sharedLab(); });
//     it('...', async () => { const d = await lab.createDomU({ name: 'nb1' }); ... await d.destroy(); });
//   });
//
// Suites leave the shared lab as they found it: their domUs destroyed, background processes
// stopped, bridges closed.

import { Lab } from './lab.js';
import { whyNoXenHost } from './prerequisites.js';

let shared: Promise<Lab> | null = null;

/** The run's lab, booted on first use. A failed boot is not retried: every user gets its error. */
export function sharedLab(): Promise<Lab> {
  shared ??= Lab.boot({
    xenstored: process.env['VIFD_XEN_HOST_XENSTORED'] === 'oxenstored' ? 'oxenstored' : 'xenstored',
    ...(process.env['VIFD_XEN_HOST_CPU'] ? { cpu: process.env['VIFD_XEN_HOST_CPU'] } : {}),
    ...(process.env['VIFD_XEN_HOST_LOGS'] ? { keepLogsIn: process.env['VIFD_XEN_HOST_LOGS'] } : {}),
  });
  return shared;
}

/** Powers the shared lab off, if it was booted. */
export async function powerOffSharedLab(): Promise<void> {
  const lab = shared;
  shared = null;
  if (!lab) return;
  await (await lab.catch(() => null))?.powerOff();
}

let toldWhy = false;

/**
 * describe() for suites that need real Xen. Where the lab cannot boot they skip, and the run
 * says why once; in CI (CI set) they fail instead: there a missing prerequisite is a bug.
 */
export function describeXen(title: string, body: (this: Mocha.Suite) => void): Mocha.Suite {
  return describe(title, function () {
    this.timeout(600000);
    before(function () {
      const why = whyNoXenHost();
      if (why === null) return;
      if (inCi()) throw new Error(`real-Xen tests cannot run in CI: ${why}`);
      if (!toldWhy) {
        toldWhy = true;
        process.stdout.write(`  (real-Xen tests skipped: ${why})\n`);
      }
      this.skip();
    });
    body.call(this);
  });
}

/** Whether this is a CI run (CI set, and not to 0/false/no): there a missing prerequisite fails. */
export function inCi(): boolean {
  const ci = process.env['CI'] ?? '';
  return ci !== '' && !/^(0|false|no)$/i.test(ci);
}
