// Running a hotplug script never rejects: whatever spawn() does with the script, synchronously
// or not, the caller gets an outcome it can record.

import { expect } from 'chai';
import { runHotplugScript } from '../../src/backend/hotplug.js';

describe('running a hotplug script', () => {
  it('reports a path spawn() refuses outright as a script that could not be run', async () => {
    const outcome = await runHotplugScript({ script: '/tmp/no\0such', action: 'online', env: {} });
    expect(outcome.ok).to.equal(false);
    expect(outcome.reason).to.match(/^\/tmp\/no\0such online could not be run: /);
  });

  it('reports a missing script and a failing one with their reasons, and a good one as ok', async () => {
    expect(await runHotplugScript({ script: '/nonexistent/vif-bridge', action: 'online', env: {} }))
      .to.deep.include({ ok: false }).and.have.property('reason').that.matches(/ENOENT/);
    expect(await runHotplugScript({ script: '/bin/false', action: 'offline', env: {} }))
      .to.deep.equal({ ok: false, reason: '/bin/false offline failed with exit status 1' });
    expect(await runHotplugScript({ script: '/bin/true', action: 'online', env: {} })).to.deep.equal({ ok: true, reason: '' });
  });
});
