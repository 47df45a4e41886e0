// Event channels: alloc_unbound, bind_interdomain, send, close; upcalls are deferred and
// coalesced, never made inside send().

import { expect } from 'chai';
import { XenError } from '../../../src/xen/errors.js';
import { EventChannels } from '../../../src/xen/emulated/event-channel.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('event channels', () => {
  let ev: EventChannels;

  beforeEach(() => {
    ev = new EventChannels();
    ev.addDomain(0);
    ev.addDomain(1);
  });

  it('binds a backend port to the frontend\'s unbound port and delivers sends both ways', async () => {
    const fe = ev.allocUnbound(1, 0);
    const be = ev.bindInterdomain(0, 1, fe);
    const seen: string[] = [];
    ev.setHandler(1, fe, () => seen.push('frontend'));
    ev.setHandler(0, be, () => seen.push('backend'));
    ev.send(0, be);
    expect(seen).to.deep.equal([]);
    await tick();
    expect(seen).to.deep.equal(['frontend']);
    ev.send(1, fe);
    await tick();
    expect(seen).to.deep.equal(['frontend', 'backend']);
  });

  it('coalesces sends made before the upcall into one', async () => {
    const fe = ev.allocUnbound(1, 0);
    const be = ev.bindInterdomain(0, 1, fe);
    let n = 0;
    ev.setHandler(1, fe, () => n++);
    ev.send(0, be);
    ev.send(0, be);
    ev.send(0, be);
    await tick();
    expect(n).to.equal(1);
    expect(ev.info(1, fe).upcalls).to.equal(1);
  });

  it('refuses to bind a port reserved for another domain, or one already bound', () => {
    ev.addDomain(2);
    const fe = ev.allocUnbound(1, 2);
    expect(() => ev.bindInterdomain(0, 1, fe)).to.throw(XenError, /reserved for domain 2/);
    const fe2 = ev.allocUnbound(1, 0);
    ev.bindInterdomain(0, 1, fe2);
    expect(() => ev.bindInterdomain(0, 1, fe2)).to.throw(XenError, /interdomain/);
  });

  it('returns the peer to unbound when one side closes, so a backend can rebind', () => {
    const fe = ev.allocUnbound(1, 0);
    const be = ev.bindInterdomain(0, 1, fe);
    ev.close(0, be);
    expect(ev.info(1, fe).status).to.equal('unbound');
    expect(() => ev.send(0, be)).to.throw(XenError);
    expect(ev.bindInterdomain(0, 1, fe)).to.be.a('number');
  });

  it('never uses port 0', () => {
    expect(ev.allocUnbound(1, 0)).to.equal(1);
  });
});

describe('event channels served on another thread', () => {
  let ev: EventChannels;
  let fe: number;
  let be: number;

  beforeEach(() => {
    ev = new EventChannels();
    ev.addDomain(0);
    ev.addDomain(1);
    fe = ev.allocUnbound(1, 0);
    be = ev.bindInterdomain(0, 1, fe);
  });

  it('rings a remote port at once on every send, and counts the upcalls', () => {
    const rung: number[] = [];
    ev.setRemote(0, be, (p) => rung.push(p));
    ev.send(1, fe);
    ev.send(1, fe);
    expect(rung).to.deep.equal([be, be]);
    expect(ev.info(0, be)).to.include({ upcalls: 2, pending: false });
  });

  it('holds a masked remote port pending and rings it once unmasked', async () => {
    const rung: number[] = [];
    ev.setRemote(0, be, (p) => rung.push(p));
    ev.setMasked(0, be, true);
    ev.send(1, fe);
    ev.send(1, fe);
    await tick();
    expect(rung).to.deep.equal([]);
    expect(ev.info(0, be).pending).to.equal(true);
    ev.setMasked(0, be, false);
    await tick();
    expect(rung).to.deep.equal([be]);
  });

  it('goes back to a local handler with setHandler', async () => {
    const rung: number[] = [];
    const local: number[] = [];
    ev.setRemote(0, be, (p) => rung.push(p));
    ev.setHandler(0, be, (p) => local.push(p));
    ev.send(1, fe);
    await tick();
    expect(rung).to.deep.equal([]);
    expect(local).to.deep.equal([be]);
  });
});
