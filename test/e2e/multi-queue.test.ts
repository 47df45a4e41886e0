// Multi-queue vifs carry real traffic: four TCP flows each way between the namespace kernel's
// socat and the guest, every byte verified, with one queue and with two (both queues carrying
// flows, each with its own tx and rx event channel), with GSO both ways and without; and a burst several times the rx ring
// towards a guest that stops servicing rx for a while arrives whole, because the backend stops
// reading the tap instead of dropping (without that, 288 of the 800 frames are lost).

import { expect } from 'chai';
import { type FixtureSteps, runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';

describe('e2e: multi-queue vifs and rx back-pressure', function () {
  this.timeout(120000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  const MiB = 1024 * 1024;
  const flows = (args: Array<string | number>): FixtureSteps => runFixtureSteps(ns, 'guest-tcp-mq', args, { timeoutMs: 100000 });
  const whole = (r: FixtureSteps): void => {
    r.expect('check what the guest received').to.have.length(4);
    (r.value('check what the guest received') as unknown[]).forEach((_, i) =>
      r.expect('check what the guest received', i).to.deep.equal({ received: MiB, hashMatches: true, closed: null }));
    r.expect('check what the namespace received').to.deep.equal(Array(4).fill({ received: MiB, identical: true }));
    r.expect('read the counters', 'resets').to.equal(0);
  };

  it('moves four flows each way over one queue with flat keys, every byte verified', () => {
    const r = flows([1, 4, MiB, 41000]);
    whole(r);
    r.expect('query the queues', 'guestQueues').to.equal(1);
    // The backend advertised a maximum, so the frontend says how many it took, as Linux's does.
    r.expect('query the queues', 'numQueuesKey').to.equal('1');
    r.expect('query the queues', 'queues').to.have.length(1);
    r.expect('query the queues', 'queues', 0).to.include({ id: 0, split: true });
    r.expect('list the event channels').to.equal(2);
  });

  it('moves four flows each way over two queues, both carrying traffic each way on their own ports', () => {
    const r = flows([2, 4, MiB, 42000]);
    whole(r);
    // GSO both ways across the queues: 64 KiB frames out of the guest, multi-slot GSO frames in.
    r.expect('read the counters', 'netfront', 'txGso').to.be.greaterThan(0);
    r.expect('read the counters', 'netfront', 'rxGso').to.be.greaterThan(0);
    r.expect('read the counters', 'netfront', 'rxMultiSlot').to.be.greaterThan(0);
    r.expect('query the queues', 'guestQueues').to.equal(2);
    r.expect('query the queues', 'numQueuesKey').to.equal('2');
    const queues = r.value('query the queues')['queues'] as Array<Record<string, any>>;
    expect(queues.map((q) => q['id']), 'query the queues (queues.*.id)').to.deep.equal([0, 1]);
    queues.forEach((q, i) => {
      r.expect('query the queues', 'queues', i, 'split').to.equal(true);
      r.expect('query the queues', 'queues', i, 'txPort').to.not.equal(q['rxPort']);
      // Hundreds of segments or ACKs each way, not a stray ARP.
      r.expect('query the queues', 'queues', i, 'txResponses').to.be.greaterThan(100);
      r.expect('query the queues', 'queues', i, 'rxResponses').to.be.greaterThan(100);
    });
    expect(new Set(queues.flatMap((q) => [q['txPort'], q['rxPort']])).size, 'query the queues (queues.*.txPort, rxPort)').to.equal(4);
    r.expect('list the event channels').to.equal(4);
  });

  it('moves four flows each way over two queues without GSO, every byte verified', () => {
    const r = flows([2, 4, MiB, 43000, 'nogso']);
    whole(r);
    r.expect('query the queues', 'guestQueues').to.equal(2);
    r.expect('read the counters', 'netfront').to.include({ txGso: 0, rxGso: 0 });
    (r.value('query the queues')['queues'] as unknown[]).forEach((_, i) =>
      r.expect('query the queues', 'queues', i, 'rxResponses').to.be.greaterThan(100));
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
