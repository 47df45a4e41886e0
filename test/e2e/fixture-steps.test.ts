// The e2e fixtures report their steps as they go (test/fixtures/steps.ts), so that a fixture
// that breaks says where: a failed step is named with its error, a hang or a crash with the step
// it happened in, and the steps that passed come with what they found and the fixture's stderr.

import { expect } from 'chai';
import { FixtureFailed, runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';

describe('e2e: fixtures that say which step broke', function () {
  this.timeout(30000);
  let ns: NetNs;

  before(() => { ns = NetNs.create(); });
  after(() => ns?.destroy());

  const failure = (mode: string, timeoutMs = 10000): FixtureFailed => {
    try {
      runFixtureSteps(ns, 'steps-demo', [mode], { timeoutMs });
    } catch (err) {
      expect(err).to.be.instanceOf(FixtureFailed);
      return err as FixtureFailed;
    }
    throw new Error(`steps-demo ${mode} succeeded`);
  };

  it('gives every step\'s value by name, and names the step in a failed assertion', () => {
    const steps = runFixtureSteps(ns, 'steps-demo', ['pass'], { timeoutMs: 10000 });
    expect(steps.passed.map((p) => p.step)).to.deep.equal(['count to three', 'greet', 'take the last step']);
    steps.expect('count to three').to.equal(3);
    steps.expect('greet', 'to', 1).to.equal('test');
    expect(() => steps.expect('greet', 'greeting').to.equal('bye')).to.throw(/^greet \(greeting\): expected 'hello' to equal 'bye'/);
    expect(() => steps.value('fly')).to.throw("fixture steps-demo pass reported no step 'fly'; its steps: " +
      "'count to three', 'greet', 'take the last step'");
  });

  it('names the step that failed, its error, the steps that passed and the end of stderr', () => {
    const err = failure('fail');
    expect(err.step).to.equal('take the last step');
    expect(err.message).to.match(/^fixture steps-demo fail: step 'take the last step' failed after \d+ ms \(the fixture exited with status 1\):\n {4}Error: broken on purpose\n/);
    expect(err.message).to.match(/\n {2}steps that passed:\n {4}count to three \(\d+ ms\): 3\n {4}greet \(\d+ ms\): \{"greeting":"hello","to":\["the","test"\]\}\n/);
    expect(err.message).to.match(/\n {2}stderr, last 30 lines:\n {4}about to take the last step\n/);
    expect(err.passed.map((p) => p.value)).to.deep.equal([3, { greeting: 'hello', to: ['the', 'test'] }]);
  });

  it('names the step a fixture hung in when it is killed at its time limit', () => {
    const err = failure('hang', 3000);
    expect(err.step).to.equal('take the last step');
    expect(err.message).to.match(/^fixture steps-demo hang: step 'take the last step' never ended: the fixture timed out after 3000 ms\n/);
  });

  it('names the step a fixture died in', () => {
    const err = failure('crash');
    expect(err.message).to.match(/^fixture steps-demo crash: step 'take the last step' never ended: the fixture was killed by SIGKILL\n/);
  });

  it('fails a step whose value JSON cannot hold, and a second step of the same name', () => {
    expect(failure('unserialisable').message).to.match(
      /^fixture steps-demo unserialisable: step 'take the last step' failed after \d+ ms \(the fixture exited with status 1\):\n {4}Error: step 'take the last step' cannot report its value: Do not know how to serialize a BigInt/);
    const twice = failure('twice');
    expect(twice.step).to.equal(null);
    expect(twice.message).to.match(/^fixture steps-demo twice exited with status 1 after step 'greet', the last that passed, in no step\n/);
    expect(twice.stderr).to.include("a fixture has two steps named 'greet'");
  });
});
