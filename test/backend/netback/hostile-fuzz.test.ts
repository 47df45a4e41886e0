// A hostile guest against netback's rings, in process: a million adversarial tx requests (and
// rx requests alongside) never crash the backend, never make it touch a page the guest did not
// grant it, never make it read a slot twice, and every fatal error disables the path as netback
// does (the harness reconnects and goes on).

import { expect } from 'chai';
import { HostileRings } from '../../fixtures/hostile-rings.js';
import { mulberry32 } from '../../helpers/prng.js';

const TARGET = Number(process.env['VIFD_FUZZ_SLOTS'] ?? 1_000_000);

describe('netback under a hostile guest (in-process fuzz)', function () {
  this.timeout(120000);

  it(`survives ${TARGET} adversarial tx requests without touching ungranted memory or fetching a slot twice`, () => {
    const seed = Number(process.env['VIFD_FUZZ_SEED'] ?? 0x5eed);
    const started = Date.now();
    const r = new HostileRings(mulberry32(seed)).run(TARGET);
    const ms = Date.now() - started;
    process.stderr.write(`      fuzz seed ${seed}: ${r.rounds} rounds, ${r.txSlotsConsumed} tx slots consumed ` +
      `(${r.txSlotsWritten} written), ${r.rxRequestsWritten} rx requests, ${r.fatals} fatal errors, ` +
      `${r.delivered} packets delivered, ${r.cleanPacketsChecked} clean packets checked, ${ms} ms\n` +
      `      fatal reasons: ${JSON.stringify(r.fatalReasons)}\n`);
    expect(r.violations.slice(0, 5)).to.deep.equal([]);
    expect(r.doubleFetches).to.equal(0);
    expect(r.poisonIntact).to.equal(true);
    expect(r.txSlotsConsumed).to.be.at.least(TARGET);
    // Every kind of attack was tried and each ended in a fatal error.
    const reasons = Object.keys(r.fatalReasons).join('\n');
    for (const kind of ['Impossible number of requests', 'Invalid extra type', 'Malicious frontend using',
      'Cross page boundary', 'GSO size must not be zero', 'Bad GSO type', 'Asked for', 'GSO packet without a valid header']) {
      expect(reasons).to.contain(kind);
    }
    expect(r.cleanPacketsChecked).to.be.greaterThan(10000);
    expect(r.counters.txErrors).to.be.greaterThan(1000);
    expect(r.counters.rxPackets).to.be.greaterThan(1000);
  });
});
