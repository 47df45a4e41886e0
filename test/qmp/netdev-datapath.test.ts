// Frames through each netdev type, with the simulated guests at the other end: two guests on
// one hub ping each other with no tap; dgram and stream peers (unix sockets and loopback
// only) get the guest's frames in QEMU's framing and get answers back; set_link cuts a vif
// off both ways, and the guest sees its carrier go.

import { expect } from 'chai';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { native } from '../../src/backend/net/native.js';
import { encodeStreamFrame, StreamFrameDecoder } from '../../src/backend/net/stream-framing.js';
import type { Netfront } from '../../src/guest/netfront.js';
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, arpFrame, BROADCAST_MAC, decodeArp, decodeEthernet, ETHERTYPE_ARP, parseIpv4,
  parseMac, ZERO_MAC,
} from '../../src/guest/packet.js';
import { NetStack } from '../../src/guest/stack.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';

const PEER_MAC = parseMac('02:00:00:00:00:99')!;
const GUEST1_IP = '10.1.0.2';

/** An ARP request for the guest's 10.1.0.2, as the host side would send it. */
function whoHas(ip = GUEST1_IP): Uint8Array {
  return arpFrame(PEER_MAC, BROADCAST_MAC, {
    op: ARP_OP_REQUEST, senderMac: PEER_MAC, senderIp: parseIpv4('10.1.0.1')!, targetMac: ZERO_MAC, targetIp: parseIpv4(ip)!,
  });
}

function isArpReplyFrom(frame: Uint8Array, ip: string): boolean {
  const eth = decodeEthernet(frame);
  if (!eth.ok || eth.value.etherType !== ETHERTYPE_ARP) return false;
  const arp = decodeArp(eth.value.payload);
  return arp.ok && arp.value.op === ARP_OP_REPLY && arp.value.senderIp === parseIpv4(ip);
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A UDP socket on 127.0.0.1 playing the far end of a dgram netdev, with the port left for vifd. */
async function udpPeer(): Promise<{ ours: number; theirs: number; peer: UdpSocket; got: Uint8Array[] }> {
  const [ours, theirs] = [await freeUdpPort(), await freeUdpPort()];
  const peer: UdpSocket = createSocket('udp4');
  const got: Uint8Array[] = [];
  peer.on('message', (m) => got.push(new Uint8Array(m)));
  await new Promise<void>((r) => peer.bind(theirs, '127.0.0.1', () => r()));
  return { ours, theirs, peer, got };
}

describe('netdev datapaths', function () {
  this.timeout(30000);
  let t: TestApp;
  let qmp: QmpTestClient;
  let dir: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-dp-'));
    t = await startApp(['-guest', 'domid=1', '-guest', 'domid=2']);
    qmp = await QmpTestClient.connect(t.qmpPath);
  });

  afterEach(async () => {
    qmp.close();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function plug(id: string, netdev: string, frontendId = 1): Promise<Netfront> {
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', id, netdev, 'frontend-id': frontendId }))
      .to.deep.equal({ return: {} });
    const guest = t.app.guests.get(frontendId)!;
    return eventually<Netfront | undefined>(() => {
      const nf = [...guest.vifs.values()].find((v) => v.netfront.backendPath?.endsWith(`/${frontendId}/${t.app.devices.find(id)!.properties()['idx'] as number}`))?.netfront;
      return nf && nf.state === 4 && nf.backendState === 4 ? nf : undefined;
    }, 10000, `${id} connected`) as Promise<Netfront>;
  }

  /** A stack of our own on a guest's vif, so two guests share one subnet. */
  function stackOn(nf: Netfront, ip: string): NetStack {
    const stack = new NetStack(nf, { address: parseIpv4(ip)!, prefixLength: 24 });
    nf.onFrame = (frame, info) => stack.receive(frame, { checksumVerified: info.dataValidated });
    return stack;
  }

  describe('hubport', () => {
    it('lets two guests ping each other through one hub, with no tap', async () => {
      await qmp.execute('netdev_add', { type: 'hubport', id: 'hp1', hubid: 0 });
      await qmp.execute('netdev_add', { type: 'hubport', id: 'hp2', hubid: 0 });
      const s1 = stackOn(await plug('nic1', 'hp1', 1), '192.168.50.1');
      const s2 = stackOn(await plug('nic2', 'hp2', 2), '192.168.50.2');
      const r = await s1.ping('192.168.50.2', { count: 3, timeoutMs: 2000 });
      expect(r.received).to.equal(3);
      expect(s2.counters.echoRequestsIn).to.equal(3);
    });

    it('connects another netdev to a hub with netdev= (here a UDP socket), as QEMU\'s -netdev hubport,netdev=', async () => {
      const { ours, theirs, peer, got } = await udpPeer();
      try {
        await qmp.execute('netdev_add', { type: 'dgram', id: 'd0', local: { type: 'inet', host: '127.0.0.1', port: String(ours) },
          remote: { type: 'inet', host: '127.0.0.1', port: String(theirs) } });
        expect(await qmp.execute('netdev_add', { type: 'hubport', id: 'up', hubid: 7, netdev: 'd0' })).to.deep.equal({ return: {} });
        await qmp.execute('netdev_add', { type: 'hubport', id: 'hp1', hubid: 7 });
        await plug('nic1', 'hp1', 1);
        expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'x', netdev: 'd0' }))
          .to.deep.equal({ error: { class: 'GenericError', desc: "Property 'xen-net-device.netdev' can't take value 'd0', it's in use" } });
        peer.send(whoHas(), ours, '127.0.0.1');
        await eventually(() => got.some((f) => isArpReplyFrom(f, GUEST1_IP)), 5000, 'the ARP reply through the hub');
        const r = await qmp.execute('human-monitor-command', { 'command-line': 'info network' });
        const prefix = 'hub 7\r\n \\ up: index=0,type=hubport,hubid=7\r\n' +
          `    \\ d0: index=0,type=dgram,udp=127.0.0.1:${ours}/127.0.0.1:${theirs}\r\n` +
          ' \\ hp1: index=0,type=hubport,hubid=7\r\n    \\ nic1: index=0,type=nic,';
        expect((r['return'] as string).startsWith(prefix), r['return'] as string).to.equal(true);
      } finally {
        peer.close();
      }
    });

    it('keeps hubs apart: a guest on hub 1 does not reach one on hub 2', async () => {
      await qmp.execute('netdev_add', { type: 'hubport', id: 'hp1', hubid: 1 });
      await qmp.execute('netdev_add', { type: 'hubport', id: 'hp2', hubid: 2 });
      const s1 = stackOn(await plug('nic1', 'hp1', 1), '192.168.50.1');
      stackOn(await plug('nic2', 'hp2', 2), '192.168.50.2');
      expect((await s1.ping('192.168.50.2', { count: 1, timeoutMs: 600 })).received).to.equal(0);
    });
  });

  describe('set_link', () => {
    let nf2: Netfront;
    let s1: NetStack;

    beforeEach(async () => {
      await qmp.execute('netdev_add', { type: 'hubport', id: 'hp1', hubid: 0 });
      await qmp.execute('netdev_add', { type: 'hubport', id: 'hp2', hubid: 0 });
      s1 = stackOn(await plug('nic1', 'hp1', 1), '192.168.60.1');
      nf2 = await plug('nic2', 'hp2', 2);
      stackOn(nf2, '192.168.60.2');
    });

    const linkState = async (fe: number) => (await qmp.execute('__com.vifd_xenstore-read',
      { path: `/local/domain/0/backend/qnic/${fe}/0/link-state` }))['return'];

    it('publishes link-state=1 in the backend directory of every vif, and link up in its properties', async () => {
      expect(await linkState(2)).to.equal('1');
      expect(t.app.devices.find('nic2')!.properties()['link']).to.equal('up');
      expect(nf2.carrier).to.equal(true);
    });

    it('takes a device\'s link down: link-state 0, the guest\'s carrier off, no frames either way; and up again', async () => {
      expect(await qmp.execute('set_link', { name: 'nic2', up: false })).to.deep.equal({ return: {} });
      expect(await linkState(2)).to.equal('0');
      expect(t.app.devices.find('nic2')!.properties()['link']).to.equal('down');
      await eventually(() => nf2.carrier === false, 5000, 'guest 2 carrier off');
      const before = nf2.counters.txDropped;
      expect((await s1.ping('192.168.60.2', { count: 1, timeoutMs: 600 })).received).to.equal(0);
      // The guest sends nothing while its carrier is off: what it tried was dropped at netfront.
      expect(nf2.send(new Uint8Array(60))).to.equal(false);
      expect(nf2.counters.txDropped).to.be.greaterThan(before);

      expect(await qmp.execute('set_link', { name: 'nic2', up: true })).to.deep.equal({ return: {} });
      await eventually(() => nf2.carrier === true, 5000, 'guest 2 carrier on');
      expect((await s1.ping('192.168.60.2', { count: 2, timeoutMs: 2000 })).received).to.equal(2);
      expect(t.app.guests.get(2)!.summary().vifs[0]!.carrier).to.equal(true);
    });

    it('takes a netdev\'s link down and with it the device that uses it, as a NIC follows its peer', async () => {
      expect(await qmp.execute('set_link', { name: 'hp2', up: false })).to.deep.equal({ return: {} });
      expect(t.app.devices.find('nic2')!.properties()['link']).to.equal('down');
      await eventually(() => nf2.carrier === false, 5000, 'guest 2 carrier off');
      expect((await s1.ping('192.168.60.2', { count: 1, timeoutMs: 600 })).received).to.equal(0);
      await qmp.execute('set_link', { name: 'hp2', up: true });
      await eventually(() => nf2.carrier === true, 5000, 'guest 2 carrier on');
      expect((await s1.ping('192.168.60.2', { count: 1, timeoutMs: 2000 })).received).to.equal(1);
    });

    it('answers DeviceNotFound for an unknown name and QEMU\'s texts for bad arguments', async () => {
      expect(await qmp.execute('set_link', { name: 'nosuch', up: true }))
        .to.deep.equal({ error: { class: 'DeviceNotFound', desc: "Device 'nosuch' not found" } });
      expect(await qmp.execute('set_link', { name: 'nic2', up: 'no' }))
        .to.deep.equal({ error: { class: 'GenericError', desc: "Invalid parameter type for 'up', expected: boolean" } });
      expect(await qmp.execute('set_link', { name: 'nic2' }))
        .to.deep.equal({ error: { class: 'GenericError', desc: "Parameter 'up' is missing" } });
    });
  });

  describe('dgram', () => {
    it('sends the guest\'s frames as UDP datagrams and delivers datagrams to the guest (inet on 127.0.0.1)', async () => {
      const { ours, theirs, peer, got } = await udpPeer();
      try {
        expect(await qmp.execute('netdev_add', {
          type: 'dgram', id: 'd0',
          local: { type: 'inet', host: '127.0.0.1', port: String(ours) },
          remote: { type: 'inet', host: '127.0.0.1', port: String(theirs) },
        })).to.deep.equal({ return: {} });
        await plug('nic0', 'd0');
        peer.send(whoHas(), ours, '127.0.0.1');
        await eventually(() => got.some((f) => isArpReplyFrom(f, GUEST1_IP)), 5000, 'the guest\'s ARP reply as a datagram');
        const r = await qmp.execute('human-monitor-command', { 'command-line': 'info network' });
        expect(r['return']).to.contain(`d0: index=0,type=dgram,udp=127.0.0.1:${ours}/127.0.0.1:${theirs}\r\n`);
      } finally {
        peer.close();
      }
    });

    it('does the same over unix datagram sockets', async () => {
      const local = join(dir, 'vifd.dgram');
      const remote = join(dir, 'peer.dgram');
      const n = native();
      const fd = n.unixDgramOpen(remote);
      try {
        expect(await qmp.execute('netdev_add', {
          type: 'dgram', id: 'd0', local: { type: 'unix', path: local }, remote: { type: 'unix', path: remote },
        })).to.deep.equal({ return: {} });
        await plug('nic0', 'd0');
        expect(n.unixDgramSend(fd, local, whoHas())).to.equal(42);
        const buf = new Uint8Array(2048);
        await eventually(() => {
          for (;;) {
            const len = n.tapRead(fd, buf);
            if (len <= 0) return false;
            if (isArpReplyFrom(buf.slice(0, len), GUEST1_IP)) return true;
          }
        }, 5000, 'the guest\'s ARP reply on the unix socket');
      } finally {
        n.close(fd);
      }
    });
  });

  describe('stream', () => {
    function frames(socket: Socket): Uint8Array[] {
      const out: Uint8Array[] = [];
      const dec = new StreamFrameDecoder();
      socket.on('data', (chunk: Buffer) => out.push(...dec.push(new Uint8Array(chunk)).frames));
      return out;
    }

    it('serves one peer on a unix socket with 4-byte length framing, and reports connect and disconnect', async () => {
      const path = join(dir, 'stream.sock');
      expect(await qmp.execute('netdev_add', { type: 'stream', id: 's0', server: true, addr: { type: 'unix', path } }))
        .to.deep.equal({ return: {} });
      await plug('nic0', 's0');
      const peer = connect(path);
      const got = frames(peer);
      const ev = await qmp.waitEvent('NETDEV_STREAM_CONNECTED');
      expect(ev['data']).to.deep.equal({ 'netdev-id': 's0', addr: { type: 'unix', path: '' } });
      // Half of a frame, then the rest with a second frame: the server reassembles both.
      const bytes = new Uint8Array([...encodeStreamFrame(whoHas()), ...encodeStreamFrame(whoHas())]);
      peer.write(bytes.subarray(0, 7));
      await new Promise((r) => setTimeout(r, 50));
      peer.write(bytes.subarray(7));
      await eventually(() => got.filter((f) => isArpReplyFrom(f, GUEST1_IP)).length === 2, 5000, 'two ARP replies');
      // A second client is turned away while the first is connected.
      const second = connect(path);
      await new Promise<void>((r) => second.on('close', () => r()));
      peer.destroy();
      expect((await qmp.waitEvent('NETDEV_STREAM_DISCONNECTED'))['data']).to.deep.equal({ 'netdev-id': 's0' });
    });

    it('connects as a client over loopback TCP, and reconnects after the server drops it', async () => {
      const sockets: Socket[] = [];
      const server: Server = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const port = String((server.address() as { port: number }).port);
      try {
        expect(await qmp.execute('netdev_add', {
          type: 'stream', id: 's1', addr: { type: 'inet', host: '127.0.0.1', port }, 'reconnect-ms': 100,
        })).to.deep.equal({ return: {} });
        const ev = await qmp.waitEvent('NETDEV_STREAM_CONNECTED');
        expect(ev['data']).to.deep.equal({ 'netdev-id': 's1', addr: { type: 'inet', host: '127.0.0.1', port } });
        await plug('nic0', 's1');
        const got = frames(sockets[0]!);
        sockets[0]!.write(encodeStreamFrame(whoHas()));
        await eventually(() => got.some((f) => isArpReplyFrom(f, GUEST1_IP)), 5000, 'the ARP reply over TCP');
        sockets[0]!.destroy();
        await qmp.waitEvent('NETDEV_STREAM_DISCONNECTED');
        await qmp.waitEvent('NETDEV_STREAM_CONNECTED');
        expect(sockets).to.have.length(2);
      } finally {
        for (const s of sockets) s.destroy();
        server.close();
      }
    });
  });
});
