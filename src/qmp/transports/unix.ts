// QMP over a unix stream socket (`-qmp unix:PATH,server=on,wait=off`). The only file of the QMP
// layer that imports `net`.

import { createServer, type Server, type Socket } from 'node:net';
import { listenUnix, removeStaleSocket } from '../../common/unix-socket.js';
import type { QmpServer } from '../server.js';

export interface UnixListenOptions {
  path: string;
  pretty?: boolean;
}

export class UnixQmpListener {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly qmp: QmpServer, readonly path: string, private readonly pretty: boolean) {
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  static async listen(qmp: QmpServer, opts: UnixListenOptions): Promise<UnixQmpListener> {
    const l = new UnixQmpListener(qmp, opts.path, opts.pretty ?? false);
    await listenUnix(l.server, opts.path);
    return l;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    removeStaleSocket(this.path);
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    // Replies written in one turn of the event loop leave in one write: they are joined into one
    // string (V8 concatenates cheaply) and converted once. The server only writes ASCII (QEMU's
    // writer escapes everything else), so latin1 is exact and the cheapest conversion.
    let out = '';
    const flush = (): void => {
      const text = out;
      out = '';
      if (text === '' || socket.destroyed) return;
      // A client that does not read must not make us buffer without bound: stop reading its
      // requests until what we owe it has drained.
      if (!socket.write(text, 'latin1')) socket.pause();
    };
    socket.on('drain', () => socket.resume());
    const session = this.qmp.openSession({
      write: (text) => {
        if (socket.destroyed) return;
        if (out === '') process.nextTick(flush);
        out += text;
      },
      close: () => {
        flush();
        if (!socket.destroyed) socket.end();
      },
    }, this.pretty);
    socket.on('data', (chunk) => session.receive(chunk));
    socket.on('end', () => session.end());
    socket.on('error', () => session.close());
    socket.on('close', () => {
      this.sockets.delete(socket);
      session.close();
    });
  }
}
