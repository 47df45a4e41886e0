// Where the platform's xenstore is: the embedded store (the default, and what -xenstore socket=
// serves), or an external xenstored reached over its socket (-xenstore connect=PATH). Everything
// above asks this for connections and never needs to know which it is.

import { XenStore, type XsConnection, type XsHandle } from './xenstore/index.js';
import { XsBlockingClient, type BlockingClientOptions } from './xenstore/wire/blocking-client.js';
import { XsGuestWireConnection } from './xenstore/wire/guest-connection.js';

/** What a simulated guest's xenbus is given. */
export type GuestXsConnection = XsConnection | XsGuestWireConnection;

export interface XenstoreAccess {
  /** The embedded store, or null when vifd uses an external xenstored. */
  readonly embedded: XenStore | null;
  /** For messages: "embedded" or the daemon's socket path. */
  readonly description: string;
  /** A new privileged (dom0) connection, for the backends and the toolstack side. */
  privileged(): XsHandle;
  /** A new connection for a simulated guest domain. */
  guest(domid: number): GuestXsConnection;
  /** Tells the store a domain exists (INTRODUCE); an external daemon learns it from its toolstack. */
  introduceDomain(domid: number): void;
  releaseDomain(domid: number): void;
  /** Closes every connection handed out. */
  close(): void;
}

export class EmbeddedXenstore implements XenstoreAccess {
  readonly description = 'embedded';

  constructor(readonly embedded: XenStore = new XenStore()) {}

  privileged(): XsConnection {
    return this.embedded.connect(0, { privileged: true });
  }

  guest(domid: number): XsConnection {
    return this.embedded.connect(domid);
  }

  introduceDomain(domid: number): void {
    this.embedded.introduceDomain(domid);
  }

  releaseDomain(domid: number): void {
    this.embedded.releaseDomain(domid);
  }

  close(): void {
    // The store lives as long as the process; its connections go with their owners.
  }
}

export class ExternalXenstore implements XenstoreAccess {
  readonly embedded = null;
  private readonly handles: Array<{ close(): void }> = [];
  /** The connection made to check the daemon, handed out by the first privileged(). */
  private first: XsBlockingClient | null;

  /** Connects now, so a wrong path fails at startup with its reason. */
  constructor(readonly description: string, private readonly opts: BlockingClientOptions = {}) {
    this.first = XsBlockingClient.connect(description, opts);
    this.handles.push(this.first);
  }

  privileged(): XsBlockingClient {
    const first = this.first;
    if (first) {
      this.first = null;
      return first;
    }
    const h = XsBlockingClient.connect(this.description, this.opts);
    this.handles.push(h);
    return h;
  }

  guest(_domid: number): XsGuestWireConnection {
    const c = new XsGuestWireConnection(this.description);
    this.handles.push(c);
    return c;
  }

  introduceDomain(): void {
    // A real daemon would map the domain's ring page: the emulated guests have none.
  }

  releaseDomain(): void {
    // Nothing was introduced.
  }

  close(): void {
    for (const h of this.handles.splice(0)) h.close();
  }
}
