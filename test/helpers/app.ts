// An in-process vifd on a private QMP socket, for tests that need the server's insides too
// (the guest's rings, the store). Its vifs have no host-side peer unless a test gives one.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VifdApp, type AppOptions } from '../../src/cli/app.js';
import { parseCommandLine } from '../../src/cli/options.js';
import { QmpClient } from '../../src/qmp/client.js';

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

export interface AppWithClient {
  /** The app of the running test. */
  readonly t: TestApp;
  /** A negotiated QMP client of that app. */
  readonly qmp: QmpClient;
}

/**
 * Registers mocha hooks that give each test (or, with `each: false`, the whole suite) a fresh
 * in-process app and a negotiated client, and close both afterwards.
 */
export function useAppWithClient(opts: { each?: boolean; args?: string[] } = {}): AppWithClient {
  const s = {} as { t: TestApp; qmp: QmpClient };
  const setup = async (): Promise<void> => {
    s.t = await startApp(opts.args);
    s.qmp = await QmpClient.connect(s.t.qmpPath);
  };
  const teardown = async (): Promise<void> => {
    s.qmp?.close();
    await s.t?.stop();
  };
  if (opts.each ?? true) {
    beforeEach(setup);
    afterEach(teardown);
  } else {
    before(setup);
    after(teardown);
  }
  return s;
}
