// The guest carries real traffic: the namespace's kernel TCP (socat) streams 4 MiB into the
// guest and reads 4 MiB back from it, every byte verified, and UDP datagrams come back echoed.
// By default both ends offload as Linux's netback and netfront do: the guest sends 64 KiB GSO
// segments with partial checksums that the tap's kernel segments and finishes, and the kernel's
// TSO segments reach the guest as multi-slot rx packets with a GSO extra. The same transfer
// runs without GSO; and with frames lost both ways, both ends retransmit and the streams still
// arrive whole. No run leaves a checksum or header error in the namespace's counters.

import { type FixtureSteps, runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';

const MiB = 1024 * 1024;

describe('e2e: TCP and UDP between the namespace kernel and the guest', function () {
  this.timeout(120000);
  let ns: NetNs;
  let gso: FixtureSteps;

  const run = (bytes: number, loss: number, mode: 'gso' | 'nogso'): FixtureSteps =>
    runFixtureSteps(ns, 'guest-tcp', [bytes, loss, mode], { timeoutMs: 100000 });
  const noChecksumErrors = (r: FixtureSteps) => {
    r.expect('read the counters', 'badChecksums').to.equal(0);
    for (const name of Object.keys(r.value('read the counters')['snmp'])) r.expect('read the counters', 'snmp', name).to.equal(0);
    r.expect('read the counters', 'snmp').to.have.property('TcpInCsumErrors');
  };

  before(() => {
    ns = NetNs.create();
    gso = run(4 * MiB, 0, 'gso');
  });
  after(() => ns?.destroy());

  it('transfers 4 MiB each way over TCP with every byte verified, and echoes UDP and TCP', () => {
    gso.expect('echo UDP datagrams').to.equal(50);
    gso.expect('echo a stream over TCP').to.equal(true);
    gso.expect('stream into the guest').to.include({ received: 4 * MiB, hashMatches: true, closed: null });
    gso.expect('stream out of the guest').to.include({ received: 4 * MiB, identical: true, closed: null });
    gso.expect('read the counters', 'openConnections').to.equal(0);
    noChecksumErrors(gso);
  });

  it('sends 64 KiB GSO frames from the guest that the namespace kernel accepts', () => {
    gso.expect('read the counters', 'netfront', 'txGso').to.be.greaterThan(0);
    gso.expect('read the counters', 'netfront', 'txGsoMaxBytes').to.be.greaterThan(60000).and.at.most(65535);
    gso.expect('read the counters', 'netfront', 'txErrors').to.equal(0);
    gso.expect('stream out of the guest').to.include({ identical: true, retransmits: 0 });
    noChecksumErrors(gso);
  });

  it('receives the namespace kernel TCP through multi-slot rx packets with GSO extras', () => {
    gso.expect('read the counters', 'netfront', 'rxGso').to.be.greaterThan(0);
    gso.expect('read the counters', 'netfront', 'rxMultiSlot').to.be.greaterThan(0);
    gso.expect('read the counters', 'netfront', 'rxErrors').to.equal(0);
    gso.expect('stream into the guest').to.include({ hashMatches: true });
  });

  it('transfers 4 MiB each way without GSO, every segment MSS-sized and checksummed', () => {
    const r = run(4 * MiB, 0, 'nogso');
    r.expect('stream into the guest').to.include({ received: 4 * MiB, hashMatches: true, closed: null });
    r.expect('stream out of the guest').to.include({ received: 4 * MiB, identical: true, closed: null });
    r.expect('read the counters', 'netfront').to.include({ rxGso: 0, rxMultiSlot: 0, txGso: 0, rxErrors: 0, txErrors: 0 });
    noChecksumErrors(r);
  });

  it('completes 1 MiB each way when 2% of TCP frames are lost both ways, retransmitting', () => {
    // MSS-sized segments, so that 2% of them is a fair number of losses.
    const r = run(MiB, 0.02, 'nogso');
    r.expect('stream into the guest').to.include({ received: MiB, hashMatches: true, closed: null });
    r.expect('stream out of the guest').to.include({ received: MiB, identical: true, closed: null });
    r.expect('stream out of the guest', 'retransmits').to.be.greaterThan(0);
    r.expect('stream into the guest', 'outOfOrder').to.be.greaterThan(0);
  });

  it('completes 1 MiB each way with GSO when 3% of TCP frames (up to 64 KiB each) are lost both ways', () => {
    // A lost frame may be a whole 64 KiB segment; with the guest SACKing, both ends resend only the holes.
    const r = run(MiB, 0.03, 'gso');
    r.expect('stream into the guest').to.include({ received: MiB, hashMatches: true, closed: null });
    r.expect('stream out of the guest').to.include({ received: MiB, identical: true, closed: null });
    r.expect('read the counters', 'netfront', 'txGso').to.be.greaterThan(0);
    noChecksumErrors(r);
  });
});
