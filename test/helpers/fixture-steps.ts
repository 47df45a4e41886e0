// Runs a fixture (test/fixtures/<name>.ts, built to dist/test/fixtures/) in a network namespace
// and reads the steps it reported as it went (test/fixtures/steps.ts). A fixture that fails, hangs
// or dies throws a FixtureFailed that names the step that broke and its error, the steps that
// passed with what they found, and the end of the fixture's stderr. One that succeeds gives each
// step's value by name, and `expect` puts the step's name in the assertion's message.

import { expect } from 'chai';
import { resolve } from 'node:path';
import { parseStepLines, type StepLine } from '../fixtures/steps.js';
import type { NetNs } from './netns.js';

const STDERR_TAIL_LINES = 30;
const VALUE_CHARS = 300;

export interface PassedStep {
  step: string;
  ms: number;
  value: unknown;
}

/** What a fixture's run left: the steps that passed, the one that failed, those that never ended. */
interface StepTally {
  passed: PassedStep[];
  failed: { step: string; ms: number; error: string } | null;
  unfinished: string[];
}

function tally(lines: StepLine[]): StepTally {
  const t: StepTally = { passed: [], failed: null, unfinished: [] };
  for (const line of lines) {
    if ('started' in line) {
      t.unfinished.push(line.step);
      continue;
    }
    t.unfinished = t.unfinished.filter((s) => s !== line.step);
    if (line.ok) t.passed.push({ step: line.step, ms: line.ms, value: line.value });
    else t.failed ??= { step: line.step, ms: line.ms, error: line.error };
  }
  return t;
}

function shorten(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars)}… (${text.length} chars)`;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}

function listPassed(passed: PassedStep[]): string {
  if (passed.length === 0) return '  no step passed';
  return `  steps that passed:\n${passed.map((p) =>
    `    ${p.step} (${p.ms} ms)${p.value === undefined ? '' : `: ${shorten(JSON.stringify(p.value), VALUE_CHARS)}`}`).join('\n')}`;
}

/** A fixture that did not run every step it started to the end. */
export class FixtureFailed extends Error {
  constructor(message: string, readonly fixture: string, readonly step: string | null,
    readonly passed: PassedStep[], readonly stderr: string) {
    super(message);
    this.name = 'FixtureFailed';
  }
}

/** The steps of a fixture that succeeded, by name. */
export class FixtureSteps {
  constructor(readonly fixture: string, readonly passed: PassedStep[]) {}

  /** The value step `name` reported (parsed JSON); throws if the fixture reported no such step. */
  value(name: string): any {
    const found = this.passed.find((p) => p.step === name);
    if (!found) {
      throw new Error(`fixture ${this.fixture} reported no step '${name}'; its steps: ${
        this.passed.map((p) => `'${p.step}'`).join(', ')}`);
    }
    return found.value;
  }

  /**
   * An assertion on step `name`'s value, or on what lies at `path` in it, whose failure message
   * starts with the step's name (and the path): `steps.expect('query the ring', 'tx', 'nr-ents')`.
   */
  expect(name: string, ...path: Array<string | number>): Chai.Assertion {
    const value = path.reduce<any>((v, key) => v?.[key], this.value(name));
    return expect(value, path.length > 0 ? `${name} (${path.join('.')})` : name);
  }
}

/**
 * Runs fixture `name` with `args` in `ns`, killing it after `timeoutMs`. Returns its steps if it
 * exited with status 0 having ended every step it started, none failed; throws FixtureFailed
 * otherwise. With VIFD_TEST_VERBOSE set, every step's value goes to stderr.
 */
export function runFixtureSteps(ns: NetNs, name: string, args: Array<string | number>,
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv }): FixtureSteps {
  const label = [name, ...args.map(String)].join(' ');
  const r = ns.run(process.execPath, [resolve(`dist/test/fixtures/${name}.js`), ...args.map(String)], opts);
  const { lines, unreadable } = parseStepLines(r.stdout ?? '');
  const t = tally(lines);
  if (process.env['VIFD_TEST_VERBOSE']) {
    for (const p of t.passed) process.stderr.write(`${label}: ${p.step} (${p.ms} ms): ${JSON.stringify(p.value)}\n`);
  }

  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const ending = timedOut ? `timed out after ${opts.timeoutMs} ms`
    : r.error ? `could not run: ${r.error.message}`
      : r.signal ? `was killed by ${r.signal}`
        : `exited with status ${r.status}`;
  const ok = !r.error && r.status === 0 && t.failed === null && t.unfinished.length === 0 && unreadable.length === 0;
  if (ok) return new FixtureSteps(label, t.passed);

  const last = t.passed.at(-1)?.step;
  const where = last === undefined ? 'before its first step ended' : `after step '${last}', the last that passed`;
  let headline: string;
  let step: string | null = null;
  if (t.failed) {
    step = t.failed.step;
    headline = `fixture ${label}: step '${step}' failed after ${t.failed.ms} ms (the fixture ${ending}):\n${indent(t.failed.error)}`;
  } else if (t.unfinished.length > 0) {
    step = t.unfinished[0]!;
    headline = `fixture ${label}: step '${step}' never ended: the fixture ${ending}`;
  } else if (unreadable.length > 0) {
    headline = `fixture ${label} ${ending} and wrote step lines that do not parse:\n${indent(unreadable.join('\n'))}`;
  } else {
    headline = `fixture ${label} ${ending} ${where}, in no step`;
  }
  const stderr = r.stderr ?? '';
  const tail = stderr.trim() === '' ? '  stderr: empty'
    : `  stderr, last ${STDERR_TAIL_LINES} lines:\n${indent(stderr.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n'))}`;
  throw new FixtureFailed(`${headline}\n${listPassed(t.passed)}\n${tail}`,
    label, step, t.passed, stderr);
}
