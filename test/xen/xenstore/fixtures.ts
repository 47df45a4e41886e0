// Shared set-up for the xenstore tests: a store with dom0 and introduced guests that own their
// home directories (as a toolstack would make them), event recorders, and error assertions.

import { expect } from 'chai';
import { XenStore, XsError, type XenStoreOptions, type XsConnection, type XsErrorCode } from '../../../src/xen/xenstore/index.js';

export interface World {
  store: XenStore;
  dom0: XsConnection;
  guest1: XsConnection;
  guest2: XsConnection;
}

/** Creates `/local/domain/<id>` owned by the guest and introduces it, then connects. */
export function addGuest(store: XenStore, dom0: XsConnection, domid: number): XsConnection {
  dom0.mkdir(`/local/domain/${domid}`);
  dom0.setPerms(`/local/domain/${domid}`, [`n${domid}`]);
  store.introduceDomain(domid);
  return store.connect(domid);
}

export function makeWorld(options?: XenStoreOptions): World {
  const store = new XenStore(options);
  const dom0 = store.connect(0);
  return { store, dom0, guest1: addGuest(store, dom0, 1), guest2: addGuest(store, dom0, 2) };
}

/** A connection of the property tests: who it speaks as. */
export interface Actor { domid: number; privileged: boolean }

/**
 * The serializability tests' starting point: guests 1 and 2, a shared area `/s` both may write
 * and a node `/s/ro` they may only read; one connection per actor.
 */
export function sharedArea(actors: readonly Actor[]): { store: XenStore; conns: XsConnection[] } {
  const store = new XenStore();
  const dom0 = store.connect(0);
  addGuest(store, dom0, 1).close();
  addGuest(store, dom0, 2).close();
  dom0.mkdir('/s');
  dom0.setPerms('/s', ['n0', 'b1', 'b2']);
  dom0.write('/s/ro', 'read only');
  dom0.setPerms('/s/ro', ['n0', 'r1', 'r2']);
  dom0.close();
  return { store, conns: actors.map((a) => store.connect(a.domid, { privileged: a.privileged })) };
}

export type Recorded = Array<[string, string]>;

/** Starts recording the connection's watch events. */
export function record(conn: XsConnection): Recorded {
  const seen: Recorded = [];
  conn.onWatchEvent = (path, token) => seen.push([path, token]);
  return seen;
}

/** Waits for every queued event to be delivered, then returns (and forgets) what was recorded. */
export async function settle(store: XenStore, seen: Recorded): Promise<Recorded> {
  await store.whenIdle();
  return seen.splice(0);
}

export function expectXsError(fn: () => unknown, code: XsErrorCode): XsError {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(XsError);
    expect((err as XsError).code, (err as Error).message).to.equal(code);
    return err as XsError;
  }
  expect.fail(`expected XsError ${code}, but the call succeeded`);
}

export function text(buf: Buffer): string {
  return buf.toString('utf8');
}
