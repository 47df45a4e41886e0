// Root hooks: vifd's log lines (warnings and errors that tests provoke on purpose) are kept
// per test and printed only when that test fails, so a passing run reads as a list of results.

import { setLogSink } from '../../src/common/log.js';

let lines: string[] = [];

setLogSink((line) => { lines.push(line); });

export const mochaHooks = {
  beforeEach(): void {
    lines = [];
  },
  afterEach(this: Mocha.Context): void {
    const test = this.currentTest;
    if (test?.state === 'failed' && lines.length > 0) {
      process.stderr.write(`vifd's log during "${test.fullTitle()}":\n${lines.map((l) => `  ${l}\n`).join('')}`);
    }
    lines = [];
  },
};
