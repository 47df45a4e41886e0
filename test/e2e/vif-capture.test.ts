// Packet capture over QMP, as QEMU's filter-dump: the pcap file vifd writes for a vif opens in
// tshark with the kernel's echo requests and the guest's replies, and nothing after the stop.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFixtureSteps } from '../helpers/fixture-steps.js';
import { NetNs } from '../helpers/netns.js';

describe('e2e: a vif captured to a pcap file over QMP', function () {
  this.timeout(60000);
  let ns: NetNs;
  let dir: string;

  before(() => {
    ns = NetNs.create();
    dir = mkdtempSync(join(tmpdir(), 'vifd-pcap-'));
  });
  after(() => {
    ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes a pcap that tshark reads, with the pings both ways and only while capturing', () => {
    const file = join(dir, 'nic0.pcap');
    const steps = runFixtureSteps(ns, 'vif-capture', [file], { timeoutMs: 40000 });
    steps.expect('ping the guest while capturing').to.equal(true);
    steps.expect('start capturing', 'return').to.deep.equal({});
    steps.expect('stop a capture that never started', 'error')
      .to.deep.equal({ class: 'GenericError', desc: "Device 'nic0' is not capturing" });
    steps.expect('capture a device that does not exist', 'error')
      .to.deep.equal({ class: 'DeviceNotFound', desc: "Device 'nope' not found" });
    steps.expect('capture into a missing directory', 'error', 'desc')
      .to.match(/^Could not open capture file '.*no\/such\/dir\.pcap': ENOENT/);
    steps.expect('start capturing again', 'error')
      .to.deep.equal({ class: 'GenericError', desc: `Device 'nic0' is already capturing to '${file}'` });

    const fields = execFileSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=,',
      '-e', 'frame.len', '-e', 'eth.src', '-e', 'eth.dst', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'icmp.type'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').filter(Boolean).map((l) => l.split(','));
    const requests = fields.filter((f) => f[3] === '10.1.0.1' && f[4] === '10.1.0.2' && f[5] === '8');
    const replies = fields.filter((f) => f[3] === '10.1.0.2' && f[4] === '10.1.0.1' && f[5] === '0');
    expect(requests).to.have.length(3);
    expect(replies).to.have.length(3);
    for (const f of replies) expect(f[1]).to.equal('00:16:3e:00:00:20');
    steps.expect('stop capturing', 'return').to.deep.equal({ frames: fields.length });
    // tshark finds the file well formed: no "appears to have been cut short" complaint.
    const info = execFileSync('capinfos', ['-c', '-E', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(info).to.match(/Number of packets:\s+\d+/);
    expect(info).to.match(/Ethernet/);
  });
});
