// A simulated guest's xenstore connection when vifd uses an external xenstored: its own socket
// (the guest's xenbus would use its ring page on real Xen, which a dom0 process cannot open),
// connected in the background so the guest can be created synchronously. Requests made before
// the connection is up wait for it. The guest writes absolute paths, so dom0's rights on the
// socket change nothing it sees.

import type { WatchCallback } from '../connection.js';
import { XsClient } from './client.js';

export class XsGuestWireConnection {
  onWatchEvent: WatchCallback | null = null;
  private readonly client: Promise<XsClient>;
  private closed = false;

  constructor(path: string) {
    this.client = XsClient.connect(path).then((c) => {
      if (this.closed) c.close();
      c.on('watch', (p, token) => this.onWatchEvent?.(p, token));
      return c;
    });
    // Failures surface on the first request that awaits the connection.
    this.client.catch(() => undefined);
  }

  async read(path: string, tx?: unknown): Promise<Buffer> {
    return (await this.client).read(path, txId(tx));
  }

  async write(path: string, value: string, tx?: unknown): Promise<void> {
    return (await this.client).write(path, value, txId(tx));
  }

  async rm(path: string, tx?: unknown): Promise<void> {
    return (await this.client).rm(path, txId(tx));
  }

  async directory(path: string, tx?: unknown): Promise<string[]> {
    return (await this.client).directory(path, txId(tx));
  }

  async watch(path: string, token: string): Promise<void> {
    return (await this.client).watch(path, token);
  }

  async unwatch(path: string, token: string): Promise<void> {
    return (await this.client).unwatch(path, token);
  }

  async transactionStart(): Promise<number> {
    return (await this.client).transactionStart();
  }

  async transactionEnd(tx: unknown, commit: boolean): Promise<void> {
    return (await this.client).transactionEnd(txId(tx), commit);
  }

  close(): void {
    this.closed = true;
    this.client.then((c) => c.close(), () => undefined);
  }
}

function txId(tx: unknown): number {
  return typeof tx === 'number' ? tx : 0;
}
