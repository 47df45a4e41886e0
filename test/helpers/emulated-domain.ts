// A guest domain of the emulated platform on its own, for tests that drive netback's rings
// directly: its memory, its grant table (the guest's side) and dom0's grant operations on it
// (the hypervisor's side, as a backend gets them from the platform).

import { EmulatedGrants } from '../../src/xen/emulated/grant-ops.js';
import { GrantTable, type GrantTableOptions } from '../../src/xen/emulated/grant-table.js';
import { GuestMemory } from '../../src/xen/emulated/guest-memory.js';

export interface TestDomain {
  domid: number;
  memory: GuestMemory;
  table: GrantTable;
  /** Dom0's grant operations on this domain's grants (copies in the native copier, maps, direct reads). */
  grants: EmulatedGrants;
}

export function testDomain(domid = 1, opts: { memory?: GuestMemory; table?: GrantTableOptions } = {}): TestDomain {
  const memory = opts.memory ?? new GuestMemory(domid);
  const table = new GrantTable(domid, memory, opts.table);
  const grants = new EmulatedGrants(0, (d) => (d === domid ? table : undefined), { direct: true });
  return { domid, memory, table, grants };
}
