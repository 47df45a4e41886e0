// A guest that sends malformed tx requests gets NETIF_RSP_ERROR for each and its vif keeps
// carrying traffic through its tap in both directions.

import { runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';

describe('e2e: a misbehaving guest breaks nothing', function () {
  this.timeout(60000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  it('answers size 10, an ungranted gref and a page-crossing offset with NETIF_RSP_ERROR, and the vif still passes traffic', () => {
    const steps = runFixtureSteps(ns, 'misbehaving-guest', [], { timeoutMs: 40000 });
    steps.expect('inject malformed tx requests').to.deep.equal({ size10: -1, ungranted: -1, pageCrossing: -1, good: 0 });
    steps.expect('read the backend', 'txErrors').to.equal(3);
    steps.expect('ping the guest from the namespace').to.equal(true);
    steps.expect('ping the namespace from the guest').to.equal(3);
    steps.expect('read the backend', 'disabled').to.equal(null);
    steps.expect('read the backend', 'broken').to.equal(null);
  });
});
