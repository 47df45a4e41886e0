// A hostile guest disables its own vif, never vifd and never its other vif: malformed requests
// are answered with errors, an invalid extra-info type is fatal as in netback (error node, QMP
// event, carrier off, xenstore state untouched), and the second vif's tap passes every ping.

import { expect } from 'chai';
import { resolve } from 'node:path';
import { NetNs } from '../helpers/netns.js';

describe('e2e: a hostile guest disables only its own vif', function () {
  this.timeout(60000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  it('answers abuse with errors, disables the vif on an invalid extra type, and the other vif loses nothing', () => {
    const out = ns.exec(process.execPath, [resolve('dist/test/fixtures/hostile-guest.js')], { timeoutMs: 45000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, any>;
    if (process.env['VIFD_TEST_VERBOSE']) process.stderr.write(`${JSON.stringify(r)}\n`);
    expect(r['warm']).to.equal(1);
    expect(r['injected']).to.be.greaterThan(1000);
    // Random grefs that happen to name a page the guest granted are legitimate packets (0).
    expect(Object.keys(r['statuses']).sort()).to.deep.equal(['-1', '0']);
    expect(r['statuses']['-1']).to.be.greaterThan(1000);
    expect(r['beforeFatal']).to.deep.equal({ disabled: null });
    expect(r['event']).to.deep.equal({ device: 'bad', path: '/machine/peripheral/bad', vif: 'vif1.0', reason: 'Invalid extra type: 7' });
    expect(r['disabled']).to.equal('Invalid extra type: 7');
    expect(r['errorNode']).to.equal('22 fatal error; disabling device: Invalid extra type: 7');
    expect(r['backendState']).to.equal('4');
    expect(r['carrier']).to.equal('0');
    expect(r['goodCarrier']).to.equal('1');
    expect(r['ringInfo']).to.include({ vif: 'vif1.0', connected: true, disabled: 'Invalid extra type: 7' });
    expect(r['ringInfo'].tx['nr-ents']).to.equal(256);
    expect(r['kick']).to.deep.equal({ kicked: false });
    expect(r['goodRing']).to.include({ vif: 'vif1.1', connected: true, disabled: '' });
    expect(r['goodRing'].rx['nr-ents']).to.equal(256);
    expect(r['pingSummary']).to.deep.equal([200, 200]);
    expect(r['guestPingReceived']).to.equal(5);
  });
});
