// A unix socket on the host that reaches a unix socket in dom0 (a QMP monitor, typically), so
// host-side tests talk to vifd in dom0 with the project's own QmpClient, events included.
//
//   QmpClient ──> <dir>/bridgeN.sock (ours) ──> QEMU chardev <dir>/qmpN.sock ══ virtio-serial
//        ══> port vifd.qmpN in dom0 ──> agent.py ──> dom0's unix socket (e.g. vifd's -qmp)
//
// A virtio-serial port is one byte stream with no notion of connections, so the connection
// story is told over the control channel: each host connection is exactly one connection to
// dom0's socket, and ends when either side ends it.
//   host connects         we connect QEMU's chardev, then ask the agent to connect dom0's
//                         socket (bridge-open); if that fails (no vifd yet) the host's
//                         connection is closed at once: reconnecting is the client's retry
//   host closes           bridge-close, carrying the byte count we sent, so the agent hands
//                         dom0's socket every byte before it closes it
//   dom0's socket closes  bridge-closed event, carrying the byte count the agent sent; once
//                         that much has arrived here we close the host's connection, as a
//                         unix socket would (so a vifd restarted in dom0 is a closed
//                         connection here, then a new connect)
// One host connection at a time per bridge; a second one is closed at once.

import { connect, createServer, type Server, type Socket } from 'node:net';
import { QmpClient } from '../../src/qmp/client.js';
import { field, type ControlChannel } from './control.js';
import { sleep } from './dom0.js';

interface Connection {
  client: Socket;
  chardev: Socket;
  /** Bytes from dom0 (through the chardev) handed to the client. */
  received: number;
  /** Bytes from the client handed to the chardev. */
  sent: number;
  /** Settles when dom0's side is connected, or rejects with why it could not be. */
  opened: Promise<void>;
  /** The agent's name for it, once opened. */
  serial: number | null;
  ended: Promise<void>;
  finish: () => void;
}

export class QmpBridge {
  /** Why the last connection could not reach dom0's socket (e.g. vifd not listening yet). */
  lastError: string | null = null;
  private conn: Connection | null = null;
  /** Settles when the last connection's teardown is over; the next one waits for it. */
  private idle: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly closedEarly = new Map<number, number>();
  private readonly offEvents: () => void;

  private constructor(private readonly control: ControlChannel, readonly port: string, private readonly chardevPath: string,
    readonly path: string, readonly dom0Path: string, private readonly server: Server, private readonly onClosed: () => void) {
    server.on('connection', (client) => void this.accept(client));
    this.offEvents = control.onEvent((e) => {
      if (e['event'] !== 'bridge-closed' || e['port'] !== port || typeof e['conn'] !== 'number') return;
      const sent = typeof e['sent'] === 'number' ? e['sent'] : 0;
      // The report can be read before the reply that opened its connection has been seen
      // through (both may come in one chunk): kept until then.
      if (this.conn?.serial === e['conn']) void this.dom0Closed(this.conn, sent);
      else this.closedEarly.set(e['conn'], sent);
    });
  }

  /** Listens on `path`; connections there go to `dom0Path` in dom0 through port `port`. */
  static async listen(control: ControlChannel, port: string, chardevPath: string, path: string, dom0Path: string,
    onClosed: () => void = () => undefined): Promise<QmpBridge> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    return new QmpBridge(control, port, chardevPath, path, dom0Path, server, onClosed);
  }

  private async accept(client: Socket): Promise<void> {
    client.pause();
    if (this.conn || this.closed) {
      client.destroy();
      return;
    }
    const chardev = connect(this.chardevPath);
    let finish!: () => void;
    const ended = new Promise<void>((r) => { finish = r; });
    const previous = this.idle;
    let serial = 0;
    const opened = (async () => {
      await previous;
      await new Promise<void>((resolve, reject) => {
        chardev.once('connect', resolve);
        chardev.once('error', reject);
      });
      const reply = await this.control.request('bridge-open', { port: this.port, path: this.dom0Path, timeout: 5 }, 15000);
      serial = field(reply, 'conn', 'number');
    })();
    const conn: Connection = { client, chardev, received: 0, sent: 0, opened, serial: null, ended, finish };
    this.conn = conn;
    this.idle = ended;
    client.on('error', () => undefined);
    chardev.on('error', () => client.destroy());
    client.once('close', () => void this.hostClosed(conn));
    try {
      await opened;
      conn.serial = serial;
      this.lastError = null;
    } catch (err) {
      this.lastError = (err as Error).message;
      if (this.conn === conn) this.conn = null;
      client.destroy();
      chardev.destroy();
      finish();
      return;
    }
    chardev.on('data', (d: Buffer) => { conn.received += d.length; client.write(d); });
    client.on('data', (d: Buffer) => { conn.sent += d.length; chardev.write(d); });
    client.resume();
    const early = this.closedEarly.get(serial);
    this.closedEarly.clear();
    if (early !== undefined) void this.dom0Closed(conn, early);
  }

  private async hostClosed(conn: Connection): Promise<void> {
    if (this.conn !== conn) return;
    this.conn = null;
    try {
      await conn.opened;
    } catch {
      return; // accept() tears down what never opened
    }
    conn.chardev.end();
    try {
      await this.control.request('bridge-close', { port: this.port, received: conn.sent }, 15000);
    } catch { /* the lab is going: nothing left to close */ }
    conn.chardev.destroy();
    conn.finish();
  }

  private async dom0Closed(conn: Connection, sent: number): Promise<void> {
    if (this.conn !== conn) return;
    this.conn = null;
    // The last bytes travel through QEMU's chardev while this event came on another port.
    const deadline = Date.now() + 2000;
    while (conn.received < sent && Date.now() < deadline) await sleep(10);
    conn.client.end();
    conn.chardev.destroy();
    conn.finish();
  }

  /** Closes the connection, if any, and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    this.offEvents();
    this.conn?.client.destroy(); // its close handler tells the agent
    await this.idle;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.onClosed();
  }
}

/**
 * A negotiated QmpClient through `bridge`, retrying until dom0's socket answers with a
 * greeting (vifd under TCG takes 10-17 s to start) or `timeoutMs` passes.
 */
export async function connectQmp(bridge: QmpBridge, timeoutMs: number, opts: { negotiate?: boolean } = {}): Promise<QmpClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await QmpClient.connect(bridge.path, opts);
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`no QMP greeting from ${bridge.dom0Path} in dom0 within ${timeoutMs / 1000} s: ${bridge.lastError ?? (err as Error).message}`);
      }
      await sleep(250);
    }
  }
}
