// The guest carries real traffic: the namespace's kernel TCP (socat) streams 4 MiB into the
// guest and reads 4 MiB back from it, every byte verified, and UDP datagrams come back echoed;
// with frames lost both ways, both ends retransmit and the streams still arrive whole.

import { expect } from 'chai';
import { resolve } from 'node:path';
import { NetNs } from '../helpers/netns.js';

describe('e2e: TCP and UDP between the namespace kernel and the guest', function () {
  this.timeout(120000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  it('transfers 4 MiB each way over TCP with every byte verified, and echoes UDP and TCP', () => {
    const out = ns.exec(process.execPath, [resolve('dist/test/fixtures/guest-tcp.js'), String(4 * 1024 * 1024)], { timeoutMs: 100000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, any>;
    if (process.env['VIFD_TEST_VERBOSE']) process.stderr.write(`${JSON.stringify(r)}\n`);
    expect(r['udpEchoed']).to.equal(50);
    expect(r['tcpEchoed']).to.equal(true);
    expect(r['toGuest']).to.include({ received: 4 * 1024 * 1024, hashMatches: true, closed: null });
    expect(r['fromGuest']).to.include({ received: 4 * 1024 * 1024, identical: true, closed: null });
    expect(r['openConnections']).to.equal(0);
    expect(r['badChecksums']).to.equal(0);
  });

  it('completes 1 MiB each way when 2% of TCP frames are lost both ways, retransmitting', () => {
    const out = ns.exec(process.execPath, [resolve('dist/test/fixtures/guest-tcp.js'), String(1024 * 1024), '0.02'], { timeoutMs: 100000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, any>;
    if (process.env['VIFD_TEST_VERBOSE']) process.stderr.write(`${JSON.stringify(r)}\n`);
    expect(r['toGuest']).to.include({ received: 1024 * 1024, hashMatches: true, closed: null });
    expect(r['fromGuest']).to.include({ received: 1024 * 1024, identical: true, closed: null });
    expect(r['fromGuest']['retransmits']).to.be.greaterThan(0);
    expect(r['toGuest']['outOfOrder']).to.be.greaterThan(0);
  });
});
