// A hostile guest disables its own vif, never vifd and never its other vif: malformed requests
// are answered with errors, an invalid extra-info type is fatal as in netback (error node, QMP
// event, carrier off, xenstore state untouched), and the second vif's tap passes every ping.

import { expect } from 'chai';
import { runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';

describe('e2e: a hostile guest disables only its own vif', function () {
  this.timeout(60000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  it('answers abuse with errors, disables the vif on an invalid extra type, and the other vif loses nothing', () => {
    const steps = runFixtureSteps(ns, 'hostile-guest', [], { timeoutMs: 45000 });
    steps.expect('ping the namespace from good').to.equal(1);
    const abuse = 'abuse bad with malformed requests';
    steps.expect(abuse, 'injected').to.be.greaterThan(1000);
    // Random grefs that happen to name a page the guest granted are legitimate packets (0).
    expect(Object.keys(steps.value(abuse)['statuses']).sort(), `${abuse} (statuses)`).to.deep.equal(['-1', '0']);
    steps.expect(abuse, 'statuses', '-1').to.be.greaterThan(1000);
    steps.expect('read bad before the fatal request').to.deep.equal({ disabled: null });
    steps.expect('send bad an invalid extra type')
      .to.deep.equal({ device: 'bad', path: '/machine/peripheral/bad', vif: 'vif1.0', reason: 'Invalid extra type: 7' });
    steps.expect('read bad\'s backend', 'disabled').to.equal('Invalid extra type: 7');
    steps.expect('read bad\'s error node').to.equal('22 fatal error; disabling device: Invalid extra type: 7');
    steps.expect('read bad\'s backend state').to.equal('4');
    steps.expect('read the taps\' carriers', 'bad').to.equal('0');
    steps.expect('read the taps\' carriers', 'good').to.equal('1');
    steps.expect('query bad\'s ring').to.include({ vif: 'vif1.0', connected: true, disabled: 'Invalid extra type: 7' });
    steps.expect('query bad\'s ring', 'tx', 'nr-ents').to.equal(256);
    steps.expect('kick bad').to.deep.equal({ kicked: false });
    steps.expect('query good\'s ring').to.include({ vif: 'vif1.1', connected: true, disabled: '' });
    steps.expect('query good\'s ring', 'rx', 'nr-ents').to.equal(256);
    steps.expect('ping good from the namespace throughout').to.deep.equal([200, 200]);
    steps.expect('ping the namespace from good again').to.equal(5);
  });
});
