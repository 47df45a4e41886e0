// A domain of the emulated platform: its memory and its grant table. Its xenstore connection
// and event channel ports are held by the platform's shared services.

import { GrantTable } from './grant-table.js';
import { GuestMemory } from './guest-memory.js';

export class Domain {
  readonly memory: GuestMemory;
  readonly grants: GrantTable;

  constructor(readonly domid: number, readonly name: string, maxPages?: number) {
    this.memory = new GuestMemory(domid, maxPages);
    this.grants = new GrantTable(domid, this.memory);
  }
}
