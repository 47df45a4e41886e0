// Replays QEMU 10.0.2's QMP oracle (test/data/qemu10-qmp-oracle.json) against vifd over its
// real unix socket: the exact bytes of each probe, on a connection of its own, and each reply
// line compared with QEMU's byte for byte.
//
// Normalised, and nothing else:
// - event timestamps (the oracle stores them as "<int>");
// - the package string of the greeting / query-version (QEMU's Debian build string against
//   "vifd <version>"), also where HMP's `info version` prints it.
// Deliberate differences are listed below with their reason: probes and steps QEMU answers for
// hardware or subsystems vifd does not have, and the limit probes, where vifd answers one error
// and recovers cleanly instead of lexing the refused message's remainder as new input.

import { expect } from 'chai';
import { VERSION } from '../../src/cli/version.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { stepWrites, withOracle, type OracleProbe, type OracleResponse, type OracleStep } from '../helpers/oracle.js';
import { RawLineClient } from '../helpers/raw-line-client.js';

const QEMU_PACKAGE = 'Debian 1:10.0.2+ds-2+deb13u1~bpo12+1';
const VIFD_PACKAGE = `vifd ${VERSION}`;

/** Probes that cannot apply to vifd, with the reason. */
const EXCLUDED_PROBES: Record<string, string> = {
  query_kvm: 'vifd runs no vCPUs and no accelerator: query-kvm does not exist',
  query_machines_count: 'vifd has no machine types to list (query-machines does not exist)',
  query_commands: "vifd's command set is its own (QEMU has 233); the list is checked in introspection.test.ts",
  query_qmp_schema: "vifd's schema is its own (QEMU has 1,172 entries); the entries of shared commands are compared in introspection.test.ts",
  events_stop_cont_reset: 'stop/cont/system_reset/system_powerdown act on vCPUs, which vifd does not have',
  xen_event_commands: 'QEMU -M none has no Xen emulation ("not enabled"); vifd has it: see xen-events.test.ts',
  netdev_user_lifecycle_and_set_link: "the 'user' (slirp) netdev is not a vifd netdev type",
  netns_tap_lifecycle: 'creates real taps in a network namespace; the netdev tests cover tap lifecycles',
  pc_hotplug_usb_lifecycle: '-M pc instance: USB devices vifd does not have',
  pc_hotplug_anon_device_del_by_path: '-M pc instance: USB devices vifd does not have',
  pc_hotplug_pci_nic_needs_guest: '-M pc instance: PCI NICs and user netdevs vifd does not have',
  pc_quit: '-M pc instance (its quit is the same as the quit probe, which runs)',
  pc_device_add_property_errors: '-M pc instance: e1000/usb-tablet property errors; xen-net-device ones are in device-add.test.ts',
};

/** Steps (0-based) of otherwise applicable probes that cannot apply, with the reason. */
const EXCLUDED_STEPS: Record<string, { steps: number[]; reason: string }> = {
  exec_oob_with_oob_capability: { steps: [1, 2, 3], reason: 'migrate-pause/migrate-recover: vifd has no migration' },
  device_add_errors: {
    steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 18],
    reason: "QEMU without Xen has no xen-bus ('No ... bus found'); vifd has xen-bus.0, and no e1000",
  },
  qom_list_types_xen: { steps: [0, 1], reason: 'xen-disk/xen-console/xen-block/xen-cdrom and the legacy xen-backend are not vifd types' },
  qom_list_get: { steps: [7], reason: "QEMU's /machine/unattached holds memory regions and sysbus; vifd's holds its xen-bridge" },
  human_monitor_command: {
    steps: [2, 6],
    reason: 'vifd accepts cpu-index 0 (qmp-shell sends it; QEMU -M none has no CPU), and its info qtree shows xen-bus',
  },
};

/** Probes where vifd recovers better than QEMU: one error for the refused message, then clean input. */
const LIMIT_PROBES = new Set([
  'large_65MB_string_over_token_limit', 'token_count_over_2M',
  'nesting_arrays_1023_levels_in_arguments', 'nesting_arrays_1024_levels_in_arguments',
  'nesting_arrays_1025_levels_in_arguments', 'nesting_arrays_2000_levels_in_arguments',
  'nesting_arrays_2000_levels_top_level', 'nesting_arrays_1025_levels_top_level',
]);

/** Commands other engineers own: a step using one runs as soon as schema/ declares it. */
const OWNED_ELSEWHERE = new Set(['netdev_add', 'netdev_del', 'set_link', 'human-monitor-command', 'device-list-properties']);

function commandOf(step: OracleStep): string | null {
  if (typeof step.request !== 'string') return null;
  const m = /"(?:execute|exec-oob)"\s*:\s*"([^"]*)"/.exec(step.request);
  return m ? m[1]! : null;
}

function stepRuns(t: TestApp, p: OracleProbe, s: number): boolean {
  if (EXCLUDED_STEPS[p.name]?.steps.includes(s)) return false;
  const cmd = commandOf(p.steps[s]!);
  return cmd === null || !OWNED_ELSEWHERE.has(cmd) || t.app.dispatcher.get(cmd) !== undefined;
}

/** QEMU's reply to the `after` request that follows most probes. */
const AFTER_REPLY = `{"return": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "${QEMU_PACKAGE}"}, "id": "after"}\r\n`;

function normaliseTimestamps(line: string): string {
  return line.replace(/"timestamp": \{"seconds": \d+, "microseconds": \d+\}/g,
    '"timestamp": {"seconds": <int>, "microseconds": <int>}');
}

/** Expected lines are QEMU's with vifd's package string. */
function expectedLine(raw: string): string {
  return raw.split(QEMU_PACKAGE).join(VIFD_PACKAGE);
}

function expectedCount(step: OracleStep): number {
  return step.response_count ?? step.responses?.length ?? 0;
}

function checkLine(got: string, want: OracleResponse, where: string): void {
  const line = normaliseTimestamps(got);
  if (want.raw !== undefined) {
    expect(line, where).to.equal(expectedLine(want.raw));
    return;
  }
  // Summarised in the oracle (a 10 MB reply): its length, head and tail.
  const qemuLine = line.split(VIFD_PACKAGE).join(QEMU_PACKAGE);
  if (want.raw_len !== undefined) expect(qemuLine.length, `${where} length`).to.equal(want.raw_len);
  if (want.raw_head !== undefined) expect(qemuLine.startsWith(want.raw_head), `${where} head`).to.equal(true);
  if (want.raw_tail !== undefined) expect(qemuLine.endsWith(want.raw_tail), `${where} tail`).to.equal(true);
}

async function negotiate(c: RawLineClient, kind: string): Promise<void> {
  await c.line(); // greeting
  if (kind === 'raw') return;
  await c.write(kind === 'neg-oob' ? '{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}' : '{"execute":"qmp_capabilities"}');
  expect(await c.line()).to.equal('{"return": {}}\r\n');
}

async function replay(t: TestApp, p: OracleProbe): Promise<void> {
  const c = await RawLineClient.connect(t.qmpPath);
  try {
    if (p.name === 'greeting') {
      expect(await c.line()).to.equal(expectedLine(p.greeting![0]!.raw!));
      return;
    }
    await negotiate(c, p.session);
    for (let s = 0; s < p.steps.length; s++) {
      if (!stepRuns(t, p, s)) continue;
      const step = p.steps[s]!;
      const where = `${p.name} step ${s}`;
      const writes = stepWrites(p.name, step);
      for (const [k, w] of writes.entries()) {
        await c.write(w);
        if (step.chunks && k < writes.length - 1) await new Promise((r) => setTimeout(r, 2));
      }
      if (step.eof === true) c.end();
      // Limit probes: one error for the refused message, and the next request answered normally.
      const limit = LIMIT_PROBES.has(p.name);
      const wanted = !limit ? (step.responses ?? []) : step.note === undefined
        ? [(step.responses ?? step.responses_first_12)![0]!] : [{ raw: AFTER_REPLY }];
      const count = limit ? 1 : expectedCount(step);
      expect(wanted.length, `${where}: the oracle lists every reply`).to.equal(count);
      for (let k = 0; k < count; k++) checkLine(await c.line(30000), wanted[k]!, `${where} reply ${k}`);
      // Nothing more: no reply QEMU did not send (a bare `42` is held until the next byte).
      const extra = await c.drain(count === 0 ? 60 : 5);
      expect(extra.map(normaliseTimestamps), `${where}: extra replies`).to.deep.equal([]);
      if (step.eof === true) await c.waitClosed();
    }
  } finally {
    c.destroy();
  }
}

describe('QEMU 10 oracle replayed against vifd over its unix socket', function () {
  this.timeout(120000);
  withOracle(({ probes }) => {
    let t: TestApp;

    before(async () => { t = await startApp(); });
    after(async () => { await t.stop(); });

    it('lists only probes the oracle has, and excludes only steps that exist', () => {
      const names = new Set(probes.map((p) => p.name));
      for (const n of [...Object.keys(EXCLUDED_PROBES), ...Object.keys(EXCLUDED_STEPS), ...LIMIT_PROBES]) {
        expect(names.has(n), n).to.equal(true);
      }
      for (const [n, e] of Object.entries(EXCLUDED_STEPS)) {
        const p = probes.find((x) => x.name === n)!;
        for (const s of e.steps) expect(s, n).to.be.below(p.steps.length);
      }
    });

    it('runs most of the oracle: at least 85 of its probes', () => {
      expect(probes.filter((p) => !(p.name in EXCLUDED_PROBES)).length).to.be.at.least(85);
    });

    for (const p of probes) {
      if (p.name in EXCLUDED_PROBES) continue;
      if (p.name === 'quit') {
        it('answers quit as QEMU does: SHUTDOWN, the return, then end of file', async () => {
          const own = await startApp();
          try {
            await replay(own, p);
          } finally {
            await own.stop();
          }
        });
        continue;
      }
      it(`answers ${p.name} as QEMU does`, async () => {
        await replay(t, p);
      });
    }
  });
});
