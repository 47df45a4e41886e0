// xen-event-list and xen-event-inject as QEMU's Xen emulation answers them, on the emulated
// event channels of the first guest: a hotplugged vif's port is interdomain to "qemu" (vifd's
// backend), and injecting it raises the guest's port.

import { expect } from 'chai';
import { useAppWithClient } from '../helpers/app.js';
import { eventually } from '../helpers/qmp-client.js';

describe('xen-event-list / xen-event-inject', () => {
  const s = useAppWithClient();

  type Port = Record<string, unknown>;
  const list = async (): Promise<Port[]> => (await s.qmp.execute('xen-event-list'))['return'] as Port[];
  /** The list once the guest's netfront has bound its port to the backend. */
  const connected = (): Promise<Port[]> => eventually(async () => {
    const l = await list();
    return l.length > 0 && l.every((p) => p['type'] === 'interdomain') ? l : null;
  }, 10000, 'the guest to bind its event channel').then((l) => l!);

  // The backend offers feature-split-event-channels, so the guest's netfront binds a tx and an rx port.
  it('lists no ports while the guest has no device, and the vif\'s tx and rx interdomain ports once it has connected', async () => {
    expect(await list()).to.deep.equal([]);
    await s.qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic0' });
    const ports = await connected();
    expect(ports).to.have.length(2);
    const guestPorts = s.t.app.platform.channels.list().filter((x) => x.domid === 1);
    for (const [i, p] of ports.entries()) {
      expect(p).to.include({ vcpu: 0, type: 'interdomain', 'remote-domain': 'qemu', pending: false, masked: false });
      expect(p['port']).to.equal(guestPorts[i]!.port);
      expect(p['target']).to.equal(guestPorts[i]!.remotePort);
    }
  });

  it('injects an event on an open port: the guest\'s upcall runs', async () => {
    await s.qmp.execute('device_add', { driver: 'xen-net-device', id: 'nic0' });
    const [p] = await connected();
    const port = p!['port'] as number;
    const upcalls = (): number => s.t.app.platform.channels.info(1, port).upcalls;
    const before = upcalls();
    expect(await s.qmp.execute('xen-event-inject', { port }, 1)).to.deep.equal({ return: {}, id: 1 });
    await eventually(() => upcalls() > before, 5000, 'the upcall');
  });

  it('refuses ports that are closed or out of range with QEMU\'s texts and argument errors', async () => {
    const err = async (args: Record<string, unknown>): Promise<unknown> => (await s.qmp.execute('xen-event-inject', args))['error'];
    expect(await err({ port: 7 })).to.deep.equal({ class: 'GenericError', desc: 'Failed to set port 7' });
    expect(await err({ port: 5000 })).to.deep.equal({ class: 'GenericError', desc: 'Invalid port 5000' });
    expect(await err({})).to.deep.equal({ class: 'GenericError', desc: "Parameter 'port' is missing" });
    expect(await err({ port: -1 })).to.deep.equal({ class: 'GenericError', desc: "Parameter 'port' expects uint32_t" });
    expect(await err({ port: 4294967296 })).to.deep.equal({ class: 'GenericError', desc: "Parameter 'port' expects uint32_t" });
    expect(await err({ port: 'one' })).to.deep.equal({ class: 'GenericError', desc: "Parameter 'port' expects uint64" });
  });
});
