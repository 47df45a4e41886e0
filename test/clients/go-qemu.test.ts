// A real QMP client that nobody here wrote: DigitalOcean's go-qemu, built offline from
// Debian's package, drives vifd through a hotplug and unplug.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NetNs } from '../helpers/netns.js';
import { VifdProcess } from '../helpers/vifd-process.js';

describe('clients: go-qemu (Debian golang-github-digitalocean-go-qemu-dev)', function () {
  this.timeout(120000);
  let ns: NetNs;
  let vifd: VifdProcess;
  let buildDir: string;
  let binary: string;

  before(async () => {
    buildDir = mkdtempSync(join(tmpdir(), 'vifd-goqemu-'));
    binary = join(buildDir, 'goqemu-client');
    execFileSync('go', ['build', '-o', binary, resolve('test/clients/go-qemu/main.go')], {
      env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(buildDir, 'cache'), GOFLAGS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    ns = NetNs.create();
    vifd = await VifdProcess.start(ns);
  });

  after(async () => {
    await vifd?.stop();
    ns?.destroy();
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  it('connects, runs query-version and device_add, sees an error for a duplicate, and receives DEVICE_DELETED', () => {
    const out = execFileSync(binary, [vifd.qmpPath], { encoding: 'utf8', timeout: 30000 }).trim().split('\n');
    expect(out[0]).to.equal('version 10.0.2');
    expect(out[1]).to.match(/^query-version \{"return": \{"qemu": \{"micro": 2, "minor": 0, "major": 10\}, "package": "vifd [^"]+"\}, "id": "v1"\}/);
    expect(out[2]).to.match(/^device_add \{"return": \{\}, "id": "a1"\}/);
    expect(out[3]).to.equal("duplicate Duplicate device ID 'gonic'");
    expect(out[4]).to.match(/^device_del \{"return": \{\}, "id": "d1"\}/);
    expect(out[5]).to.equal('event DEVICE_DELETED device=gonic path=/machine/peripheral/gonic');
  });
});
