// Root hooks for the whole run: whatever a test makes outside its own process (directories
// under the temporary directory, network namespaces) it removes again. A run that leaves some
// fails, naming them: a leak shows up in the run that adds it, not as a full disk weeks later.

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';

function tempDirs(): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('vifd-')));
}

function namespaces(): Set<string> {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return new Set(out.split('\n').map((line) => line.split(' ')[0]!).filter(Boolean));
}

let before: { dirs: Set<string>; netns: Set<string> };

export const mochaHooks = {
  beforeAll(): void {
    before = { dirs: tempDirs(), netns: namespaces() };
  },
  afterAll(): void {
    const dirs = [...tempDirs()].filter((d) => !before.dirs.has(d));
    const netns = [...namespaces()].filter((n) => !before.netns.has(n));
    if (dirs.length > 0 || netns.length > 0) {
      throw new Error(`the tests left behind: ${[...dirs.map((d) => `${tmpdir()}/${d}`), ...netns.map((n) => `netns ${n}`)].join(', ')}`);
    }
  },
};
