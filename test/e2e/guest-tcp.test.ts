// The guest carries real traffic: the namespace's kernel TCP (socat) streams 4 MiB into the
// guest and reads 4 MiB back from it, every byte verified, and UDP datagrams come back echoed.
// By default both ends offload as Linux's netback and netfront do: the guest sends 64 KiB GSO
// segments with partial checksums that the tap's kernel segments and finishes, and the kernel's
// TSO segments reach the guest as multi-slot rx packets with a GSO extra. The same transfer
// runs without GSO; and with frames lost both ways, both ends retransmit and the streams still
// arrive whole. No run leaves a checksum or header error in the namespace's counters.

import { expect } from 'chai';
import { resolve } from 'node:path';
import { NetNs } from '../helpers/netns.js';

const MiB = 1024 * 1024;

describe('e2e: TCP and UDP between the namespace kernel and the guest', function () {
  this.timeout(120000);
  let ns: NetNs;
  let gso: Record<string, any>;

  const run = (bytes: number, loss: number, mode: 'gso' | 'nogso'): Record<string, any> => {
    const out = ns.exec(process.execPath, [resolve('dist/test/fixtures/guest-tcp.js'), String(bytes), String(loss), mode],
      { timeoutMs: 100000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, any>;
    if (process.env['VIFD_TEST_VERBOSE']) process.stderr.write(`${JSON.stringify(r)}\n`);
    return r;
  };
  const noChecksumErrors = (r: Record<string, any>) => {
    expect(r['badChecksums']).to.equal(0);
    for (const [name, n] of Object.entries(r['snmp'] as Record<string, number>)) expect(n, name).to.equal(0);
    expect(r['snmp']).to.have.property('TcpInCsumErrors');
  };

  before(() => {
    ns = NetNs.create();
    gso = run(4 * MiB, 0, 'gso');
  });
  after(() => ns?.destroy());

  it('transfers 4 MiB each way over TCP with every byte verified, and echoes UDP and TCP', () => {
    expect(gso['udpEchoed']).to.equal(50);
    expect(gso['tcpEchoed']).to.equal(true);
    expect(gso['toGuest']).to.include({ received: 4 * MiB, hashMatches: true, closed: null });
    expect(gso['fromGuest']).to.include({ received: 4 * MiB, identical: true, closed: null });
    expect(gso['openConnections']).to.equal(0);
    noChecksumErrors(gso);
  });

  it('sends 64 KiB GSO frames from the guest that the namespace kernel accepts', () => {
    expect(gso['netfront']['txGso']).to.be.greaterThan(0);
    expect(gso['netfront']['txGsoMaxBytes']).to.be.greaterThan(60000).and.at.most(65535);
    expect(gso['netfront']['txErrors']).to.equal(0);
    expect(gso['fromGuest']).to.include({ identical: true, retransmits: 0 });
    noChecksumErrors(gso);
  });

  it('receives the namespace kernel TCP through multi-slot rx packets with GSO extras', () => {
    expect(gso['netfront']['rxGso']).to.be.greaterThan(0);
    expect(gso['netfront']['rxMultiSlot']).to.be.greaterThan(0);
    expect(gso['netfront']['rxErrors']).to.equal(0);
    expect(gso['toGuest']).to.include({ hashMatches: true });
  });

  it('transfers 4 MiB each way without GSO, every segment MSS-sized and checksummed', () => {
    const r = run(4 * MiB, 0, 'nogso');
    expect(r['toGuest']).to.include({ received: 4 * MiB, hashMatches: true, closed: null });
    expect(r['fromGuest']).to.include({ received: 4 * MiB, identical: true, closed: null });
    expect(r['netfront']).to.include({ rxGso: 0, rxMultiSlot: 0, txGso: 0, rxErrors: 0, txErrors: 0 });
    noChecksumErrors(r);
  });

  it('completes 1 MiB each way when 2% of TCP frames are lost both ways, retransmitting', () => {
    // MSS-sized segments, so that 2% of them is a fair number of losses.
    const r = run(MiB, 0.02, 'nogso');
    expect(r['toGuest']).to.include({ received: MiB, hashMatches: true, closed: null });
    expect(r['fromGuest']).to.include({ received: MiB, identical: true, closed: null });
    expect(r['fromGuest']['retransmits']).to.be.greaterThan(0);
    expect(r['toGuest']['outOfOrder']).to.be.greaterThan(0);
  });

  it('completes 1 MiB each way with GSO when 3% of TCP frames (up to 64 KiB each) are lost both ways', () => {
    // A lost frame may be a whole 64 KiB segment; with the guest SACKing, both ends resend only the holes.
    const r = run(MiB, 0.03, 'gso');
    expect(r['toGuest']).to.include({ received: MiB, hashMatches: true, closed: null });
    expect(r['fromGuest']).to.include({ received: MiB, identical: true, closed: null });
    expect(r['netfront']['txGso']).to.be.greaterThan(0);
    noChecksumErrors(r);
  });
});
