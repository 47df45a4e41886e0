// Multi-queue vifs carry real traffic: four TCP flows each way between the namespace kernel's
// socat and the guest, every byte verified, with one queue and with two (both queues carrying
// flows, each with its own tx and rx event channel), with GSO both ways and without; and a burst several times the rx ring
// towards a guest that stops servicing rx for a while arrives whole, because the backend stops
// reading the tap instead of dropping (without that, 288 of the 800 frames are lost).

import { expect } from 'chai';
import { resolve } from 'node:path';
import { runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';

describe('e2e: multi-queue vifs and rx back-pressure', function () {
  this.timeout(120000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  const fixture = (name: string, args: Array<string | number>): Record<string, any> => {
    const out = ns.exec(process.execPath, [resolve(`dist/test/fixtures/${name}.js`), ...args.map(String)], { timeoutMs: 100000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, any>;
    if (process.env['VIFD_TEST_VERBOSE']) process.stderr.write(`${JSON.stringify(r)}\n`);
    return r;
  };
  const MiB = 1024 * 1024;
  const whole = (r: Record<string, any>): void => {
    expect(r['toGuest']).to.have.length(4);
    for (const s of r['toGuest']) expect(s).to.deep.equal({ received: MiB, hashMatches: true, closed: null });
    expect(r['fromGuest']).to.deep.equal(Array(4).fill({ received: MiB, identical: true }));
    expect(r['resets']).to.equal(0);
  };

  it('moves four flows each way over one queue with flat keys, every byte verified', () => {
    const r = fixture('guest-tcp-mq', [1, 4, MiB, 41000]);
    whole(r);
    expect(r['guestQueues']).to.equal(1);
    // The backend advertised a maximum, so the frontend says how many it took, as Linux's does.
    expect(r['numQueuesKey']).to.equal('1');
    expect(r['queues']).to.have.length(1);
    expect(r['queues'][0]).to.include({ id: 0, split: true });
    expect(r['eventPorts']).to.equal(2);
  });

  it('moves four flows each way over two queues, both carrying traffic each way on their own ports', () => {
    const r = fixture('guest-tcp-mq', [2, 4, MiB, 42000]);
    whole(r);
    // GSO both ways across the queues: 64 KiB frames out of the guest, multi-slot GSO frames in.
    expect(r['netfront']['txGso']).to.be.greaterThan(0);
    expect(r['netfront']['rxGso']).to.be.greaterThan(0);
    expect(r['netfront']['rxMultiSlot']).to.be.greaterThan(0);
    expect(r['guestQueues']).to.equal(2);
    expect(r['numQueuesKey']).to.equal('2');
    const queues = r['queues'] as Array<Record<string, any>>;
    expect(queues.map((q) => q['id'])).to.deep.equal([0, 1]);
    for (const q of queues) {
      expect(q['split']).to.equal(true);
      expect(q['txPort']).to.not.equal(q['rxPort']);
      // Hundreds of segments or ACKs each way, not a stray ARP.
      expect(q['txResponses']).to.be.greaterThan(100);
      expect(q['rxResponses']).to.be.greaterThan(100);
    }
    expect(new Set(queues.flatMap((q) => [q['txPort'], q['rxPort']])).size).to.equal(4);
    expect(r['eventPorts']).to.equal(4);
  });

  it('moves four flows each way over two queues without GSO, every byte verified', () => {
    const r = fixture('guest-tcp-mq', [2, 4, MiB, 43000, 'nogso']);
    whole(r);
    expect(r['guestQueues']).to.equal(2);
    expect(r['netfront']).to.include({ txGso: 0, rxGso: 0 });
    for (const q of r['queues'] as Array<Record<string, any>>) expect(q['rxResponses']).to.be.greaterThan(100);
  });

  it('loses nothing of an 800-frame burst towards a guest that stops servicing rx: the tap waits instead', () => {
    const r = runFixtureSteps(ns, 'rx-burst', [800], { timeoutMs: 100000 });
    r.expect('ping the namespace from the guest').to.equal(1);
    r.expect('send 800 datagrams to the quiet guest').to.include({ stopped: true });
    r.expect('wake the guest', 'received').to.equal(800);
    r.expect('wake the guest', 'backendRxDropped').to.equal(0);
    r.expect('wake the guest', 'tapDropped').to.equal(0);
  });
});
