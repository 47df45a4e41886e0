// Root hook: the run's shared real-Xen lab (test/xen-host/shared-lab.ts), if a suite booted
// one, is powered off once every suite is done. Registered before leftovers.js, whose check of
// the temporary directory must see the lab's directory gone.

import { powerOffSharedLab } from '../xen-host/shared-lab.js';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await powerOffSharedLab();
  },
};
