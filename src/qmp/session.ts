// One QMP session: greeting, capabilities negotiation, the envelope checks of QEMU's
// qmp_dispatch(), in-order replies, and events once negotiated. It knows nothing of sockets:
// a transport feeds it bytes and gives it a way to write lines.
//
//   connect ──► greeting ──► NEGOTIATING ──qmp_capabilities──► COMMAND ──EOF──► CLOSED
//                               │ anything else: CommandNotFound (no events sent)
//
// Replies leave in request order even when a handler is asynchronous: while one is pending,
// later requests wait in `backlog`.

import { VifdError } from '../common/errors.js';
import { qmpErrorOf } from './error-class.js';
import type { Args, CommandDef, Dispatcher } from './dispatcher.js';
import type { QmpEvent } from './events.js';
import { JsonStreamParser, type JsonValue } from './json-parser.js';
import { formatJson, formatQmpLine, qdictOrderOf, quoteString } from './json-writer.js';
import { toPlainArgs } from './plain.js';

export interface QmpTransport {
  write(text: string): void;
  close(): void;
}

export interface SessionHost {
  readonly dispatcher: Dispatcher;
  greeting(): Record<string, unknown>;
  subscribe(session: QmpSession): void;
  unsubscribe(session: QmpSession): void;
}

type State = 'negotiating' | 'command' | 'closed';

interface Request {
  cmd: CommandDef;
  args: Args;
  /** The parser's arguments, kept only when they hold a float token (for integer checks). */
  raw: JsonValue | undefined;
  id: JsonValue | undefined;
  hasId: boolean;
}

let nextSessionId = 1;

export class QmpSession {
  readonly id = nextSessionId++;
  private state: State = 'negotiating';
  private oob = false;
  private readonly parser: JsonStreamParser;
  private busy = false;
  private inputEnded = false;
  private readonly backlog: Array<{ value: JsonValue } | { error: { desc: string } }> = [];

  constructor(private readonly host: SessionHost, private readonly transport: QmpTransport,
    readonly pretty = false) {
    this.parser = new JsonStreamParser((msg) => this.onMessage(msg));
  }

  get negotiated(): boolean {
    return this.state === 'command';
  }

  start(): void {
    this.send(this.host.greeting());
  }

  receive(chunk: Uint8Array): void {
    if (this.state !== 'closed') this.parser.push(chunk);
  }

  /** The peer closed its side: answer what was asked, then close. */
  end(): void {
    if (this.state === 'closed' || this.inputEnded) return;
    this.inputEnded = true;
    this.parser.end();
    if (!this.busy) this.finish();
  }

  /** Stops the session at once (server shutdown or a dropped connection). */
  close(): void {
    this.backlog.length = 0;
    this.finish();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.host.unsubscribe(this);
    this.transport.close();
  }

  sendEvent(event: QmpEvent): void {
    if (this.state === 'command') this.send(event as unknown as Record<string, unknown>);
  }

  private onMessage(msg: { value: JsonValue } | { error: { desc: string } }): void {
    if (this.busy) {
      this.backlog.push(msg);
      return;
    }
    this.handle(msg);
  }

  private handle(msg: { value: JsonValue } | { error: { desc: string } }): void {
    if ('error' in msg) {
      this.replyError(undefined, false, new VifdError('JSON_PARSE', msg.error.desc));
      return;
    }
    const value = msg.value;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.replyError(undefined, false, new VifdError('QMP_NOT_OBJECT'));
      return;
    }
    const obj = value as Record<string, JsonValue>;
    const hasId = Object.prototype.hasOwnProperty.call(obj, 'id');
    const id = obj['id'];
    let req: Request;
    try {
      req = this.check(obj, hasId);
    } catch (err) {
      this.replyError(id, hasId, err);
      return;
    }
    this.execute(req);
  }

  /** qmp_dispatch_check_obj + command lookup + negotiation rules, in QEMU's order. */
  private check(obj: Record<string, JsonValue>, hasId: boolean): Request {
    let command: string | undefined;
    let oob = false;
    for (const key of qdictOrderOf(obj)) {
      const v = obj[key];
      if (key === 'execute' || (key === 'exec-oob' && this.oob)) {
        if (typeof v !== 'string') throw new VifdError('QMP_EXECUTE_NOT_STRING', key);
        if (command !== undefined) throw new VifdError('QMP_MEMBER_UNEXPECTED', key);
        command = v;
        oob = key === 'exec-oob';
      } else if (key === 'arguments') {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new VifdError('QMP_ARGUMENTS_NOT_OBJECT');
      } else if (key !== 'id') {
        throw new VifdError('QMP_MEMBER_UNEXPECTED', key);
      }
    }
    if (command === undefined) throw new VifdError('QMP_LACKS_EXECUTE');
    const negotiating = this.state === 'negotiating';
    const cmd = negotiating && command !== 'qmp_capabilities' ? undefined : this.host.dispatcher.get(command);
    if (!cmd) {
      throw negotiating ? new VifdError('QMP_NEEDS_NEGOTIATION') : new VifdError('COMMAND_NOT_FOUND', command);
    }
    if (oob && !cmd.allowOob) throw new VifdError('QMP_NO_OOB', command);
    if (command === 'qmp_capabilities' && !negotiating) throw new VifdError('QMP_ALREADY_NEGOTIATED');
    const raw = obj['arguments'] ?? {};
    const { args, floats } = toPlainArgs(raw);
    return { cmd, args: args as Args, raw: floats ? raw : undefined, id: obj['id'], hasId };
  }

  private execute(req: Request): void {
    let result: unknown;
    try {
      result = req.cmd.name === 'qmp_capabilities'
        ? this.negotiate(req)
        : this.host.dispatcher.run(req.cmd, req.args, { sessionId: this.id }, req.raw);
    } catch (err) {
      this.replyError(req.id, req.hasId, err);
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result.then(
        (value) => this.replyReturn(value, req),
        (err) => this.replyError(req.id, req.hasId, err),
      ).finally(() => this.drain());
      return;
    }
    this.replyReturn(result, req);
  }

  private drain(): void {
    this.busy = false;
    while (!this.busy && this.backlog.length > 0 && this.state !== 'closed') {
      this.handle(this.backlog.shift()!);
    }
    if (!this.busy && this.inputEnded) this.finish();
  }

  private negotiate(req: Request): Record<string, never> {
    this.host.dispatcher.run(req.cmd, req.args, { sessionId: this.id }, req.raw);
    const enable = (req.args['enable'] as string[] | undefined) ?? [];
    this.oob = enable.includes('oob');
    this.state = 'command';
    this.host.subscribe(this);
    return {};
  }

  // The hot path: a reply's envelope is always printed in the same order ("return" before "id",
  // "id" before "error", "class" before "desc": their QDict buckets never change), so compact
  // replies are assembled around the formatted parts instead of ordering a fresh object.
  private replyReturn(value: unknown, req: Request): void {
    if (this.pretty) {
      const msg: Record<string, unknown> = { return: value ?? {} };
      if (req.hasId) msg['id'] = req.id;
      this.send(msg);
      return;
    }
    const ret = formatJson((value ?? {}) as JsonValue);
    this.sendLine(req.hasId ? `{"return": ${ret}, "id": ${formatJson(req.id as JsonValue)}}\r\n` : `{"return": ${ret}}\r\n`);
  }

  private replyError(id: JsonValue | undefined, hasId: boolean, err: unknown): void {
    const e = qmpErrorOf(err);
    if (e.unexpected) process.emitWarning(`QMP command failed unexpectedly: ${err instanceof Error ? err.stack : String(err)}`);
    const msg: Record<string, unknown> = {};
    if (hasId) msg['id'] = id;
    msg['error'] = { class: e.qmpClass, desc: e.desc };
    if (this.pretty) {
      this.send(msg);
      return;
    }
    const error = `"error": {"class": ${quoteString(e.qmpClass)}, "desc": ${quoteString(e.desc)}}}\r\n`;
    this.sendLine(hasId ? `{"id": ${formatJson(id as JsonValue)}, ${error}` : `{${error}`);
  }

  private send(msg: Record<string, unknown>): void {
    this.sendLine(formatQmpLine(msg as JsonValue, this.pretty));
  }

  private sendLine(line: string): void {
    if (this.state === 'closed') return;
    this.transport.write(line);
  }
}
