// Event channels: alloc_unbound, bind_interdomain, send, close; upcalls are deferred and
// coalesced, never made inside send().

import { expect } from 'chai';
import { XenError } from '../../src/xen/errors.js';
import { EventChannels } from '../../src/xen/event-channel.js';

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
