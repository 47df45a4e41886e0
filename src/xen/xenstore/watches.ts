// Watches: who is told about which change (docs/misc/xenstore.txt, WATCH; C xenstored's
// tools/xenstore/xenstored_watch.c).
//
// * A change of P reaches a watch on W if P is W or below it on a component boundary; a watch
//   on `/` sees everything, `@introduceDomain` and `@releaseDomain` included (cx's is_child()).
// * "Exact" events (the descendants of a removed subtree) reach only watches placed exactly on
//   that node, so a watch inside a removed subtree reports its own path.
// * A watcher only hears about nodes it may read: the node (before or after the change) or its
//   parent must grant it read. `@` events need read on the special node's permission list,
//   which is `n0` until dom0 changes it; privileged watchers hear everything.
// * Relative watches get relative event paths. The same (path, token) twice is EEXIST, UNWATCH
//   of an unknown pair ENOENT. Registering fires one event with the path as given.
//
// This table decides recipients synchronously, at the moment of the change (so permissions are
// judged as they were then); delivery is the subscriber's business (connection.ts).

import { XsError } from './errors.js';
import type { StoreEvent } from './ops.js';
import { isSameOrDescendant, isSpecialPath, printable, relativeToDomain, type WatchPath } from './path.js';
import { canRead, type Accessor, type Perms } from './perms.js';

export interface WatchSubscriber extends Accessor {
  /** Queues an event for ordered, later delivery. */
  enqueueWatchEvent(path: string, token: string): void;
}

interface Watch {
  readonly path: string;
  readonly token: string;
  readonly relative: boolean;
}

export class WatchTable {
  private readonly bySubscriber = new Map<WatchSubscriber, Watch[]>();
  private readonly perDomain = new Map<number, number>();

  /** `specialPerms` gives the permission list of `@introduceDomain`/`@releaseDomain`. */
  constructor(private readonly specialPerms: (path: string) => Perms | undefined) {}

  /** Watches held by all connections of `domid` (the quota is per domain). */
  countForDomain(domid: number): number {
    return this.perDomain.get(domid) ?? 0;
  }

  countFor(subscriber: WatchSubscriber): number {
    return this.bySubscriber.get(subscriber)?.length ?? 0;
  }

  private adjust(domid: number, delta: number): void {
    const n = (this.perDomain.get(domid) ?? 0) + delta;
    if (n === 0) this.perDomain.delete(domid);
    else this.perDomain.set(domid, n);
  }

  /** Adds a watch and queues its initial event. Quota checks are the caller's. */
  add(subscriber: WatchSubscriber, where: WatchPath, token: string): void {
    const list = this.bySubscriber.get(subscriber) ?? [];
    if (list.some((w) => w.path === where.path && w.token === token)) {
      throw new XsError('EEXIST', `watch ${printable(where.path)} token '${printable(token)}'`);
    }
    list.push({ path: where.path, token, relative: where.relative });
    this.bySubscriber.set(subscriber, list);
    this.adjust(subscriber.domid, +1);
    subscriber.enqueueWatchEvent(this.reported(subscriber, list[list.length - 1]!, where.path), token);
  }

  remove(subscriber: WatchSubscriber, path: string, token: string): void {
    const list = this.bySubscriber.get(subscriber);
    const index = list?.findIndex((w) => w.path === path && w.token === token) ?? -1;
    if (!list || index < 0) throw new XsError('ENOENT', `no watch ${printable(path)} token '${printable(token)}'`);
    list.splice(index, 1);
    if (list.length === 0) this.bySubscriber.delete(subscriber);
    this.adjust(subscriber.domid, -1);
  }

  removeAll(subscriber: WatchSubscriber): void {
    const list = this.bySubscriber.get(subscriber);
    if (!list) return;
    this.bySubscriber.delete(subscriber);
    this.adjust(subscriber.domid, -list.length);
  }

  /** Queues `event` for every watch it reaches. */
  fire(event: StoreEvent): void {
    for (const [subscriber, watches] of this.bySubscriber) {
      let allowed: boolean | undefined;
      for (const watch of watches) {
        const reaches = event.exact ? watch.path === event.path : isSameOrDescendant(event.path, watch.path);
        if (!reaches) continue;
        allowed ??= this.permitted(subscriber, event);
        if (!allowed) break;
        subscriber.enqueueWatchEvent(this.reported(subscriber, watch, event.path), watch.token);
      }
    }
  }

  private reported(subscriber: WatchSubscriber, watch: Watch, path: string): string {
    return watch.relative ? relativeToDomain(path, subscriber.domid) : path;
  }

  private permitted(subscriber: WatchSubscriber, event: StoreEvent): boolean {
    if (subscriber.privileged) return true;
    if (isSpecialPath(event.path)) {
      const perms = this.specialPerms(event.path);
      return perms !== undefined && canRead(subscriber, perms);
    }
    return event.perms.some((perms) => perms !== undefined && canRead(subscriber, perms));
  }
}
