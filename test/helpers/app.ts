// An in-process vifd on a private QMP socket, for tests that need the server's insides too
// (the guest's rings, the store). Its vifs have no host-side peer unless a test gives one.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VifdApp, type AppOptions } from '../../src/cli/app.js';
import { parseCommandLine } from '../../src/cli/options.js';

export interface TestApp {
  app: VifdApp;
  qmpPath: string;
  stop(): Promise<void>;
}

export async function startApp(args: string[] = [], opts: AppOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'vifd-app-'));
  const qmpPath = join(dir, 'qmp.sock');
  let exited: () => void = () => {};
  const done = new Promise<void>((r) => { exited = r; });
  const app = new VifdApp(parseCommandLine(['-qmp', `unix:${qmpPath},server=on,wait=off`, ...args]), {
    createTap: () => null,
    ...opts,
    onExit: () => exited(),
  });
  await app.start();
  return {
    app,
    qmpPath,
    async stop() {
      app.shutdown('host-signal');
      await done;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
