// Hubs as QEMU's net/hub.c: a frame entering one port leaves through every other port of the
// same hub, never back through its own, and a port whose link is down neither sends nor gets.

import { expect } from 'chai';
import { Hubs } from '../../../src/backend/net/hub.js';

describe('hubs', () => {
  it('repeats a frame to every other port of the same hub, each with its own copy', () => {
    const hubs = new Hubs();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => hubs.addPort(id, 0));
    const other = hubs.addPort('d', 1);
    const got: Record<string, Uint8Array[]> = { a: [], b: [], c: [], d: [] };
    for (const p of [a!, b!, c!, other]) p.setReceiver((f) => got[p.id]!.push(f));
    const frame = Uint8Array.of(1, 2, 3);
    expect(a!.send(frame)).to.equal(true);
    expect(got['a']).to.deep.equal([]);
    expect(got['b']).to.deep.equal([frame]);
    expect(got['c']).to.deep.equal([frame]);
    expect(got['d']).to.deep.equal([]);
    expect(got['b']![0]).to.not.equal(got['c']![0]);
  });

  it('drops frames to and from a port whose carrier is off', () => {
    const hubs = new Hubs();
    const a = hubs.addPort('a', 0);
    const b = hubs.addPort('b', 0);
    const got: Uint8Array[] = [];
    b.setReceiver((f) => got.push(f));
    b.setCarrier(false);
    expect(a.send(Uint8Array.of(1))).to.equal(false);
    expect(b.send(Uint8Array.of(2))).to.equal(false);
    b.setCarrier(true);
    expect(a.send(Uint8Array.of(3))).to.equal(true);
    expect(got).to.deep.equal([Uint8Array.of(3)]);
  });

  it('forgets a hub when its last port goes', () => {
    const hubs = new Hubs();
    const a = hubs.addPort('a', 5);
    const b = hubs.addPort('b', 5);
    a.close();
    expect(hubs.list().map((h) => h.id)).to.deep.equal([5]);
    b.close();
    expect(hubs.list()).to.deep.equal([]);
  });
});
