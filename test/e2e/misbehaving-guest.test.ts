// A guest that sends malformed tx requests gets NETIF_RSP_ERROR for each and its vif keeps
// carrying traffic through its tap in both directions.

import { expect } from 'chai';
import { resolve } from 'node:path';
import { NetNs } from '../helpers/netns.js';

describe('e2e: a misbehaving guest breaks nothing', function () {
  this.timeout(60000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  it('answers size 10, an ungranted gref and a page-crossing offset with NETIF_RSP_ERROR, and the vif still passes traffic', () => {
    const out = ns.exec(process.execPath, [resolve('dist/test/fixtures/misbehaving-guest.js')], { timeoutMs: 40000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(r['statuses']).to.deep.equal({ size10: -1, ungranted: -1, pageCrossing: -1, good: 0 });
    expect(r['txErrors']).to.equal(3);
    expect(r['hostPingReceived']).to.equal(true);
    expect(r['guestPingReceived']).to.equal(3);
    expect(r['disabled']).to.equal(null);
    expect(r['broken']).to.equal(null);
  });
});
