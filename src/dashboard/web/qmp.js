// A QMP client over the dashboard's WebSocket: one WebSocket message per QMP message. It
// negotiates, matches replies to requests by id, hands events to listeners and reconnects
// (with a growing pause) when vifd goes away.

export class QmpError extends Error {
  constructor(cls, desc) {
    super(desc);
    this.name = 'QmpError';
    this.cls = cls;
  }
}

export class Qmp {
  constructor(url) {
    this.url = url;
    this.nextId = 1;
    this.pending = new Map();
    this.eventListeners = new Set();
    this.stateListeners = new Set();
    this.state = 'connecting';
    this.retryMs = 250;
    this.greeting = null;
  }

  onEvent(fn) { this.eventListeners.add(fn); }
  onState(fn) { this.stateListeners.add(fn); }

  setState(state) {
    this.state = state;
    for (const fn of this.stateListeners) fn(state);
  }

  connect() {
    this.setState('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onmessage = (m) => this.receive(JSON.parse(m.data));
    ws.onclose = () => {
      for (const p of this.pending.values()) p.reject(new QmpError('Disconnected', 'connection to vifd lost'));
      this.pending.clear();
      this.setState('disconnected');
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
    };
  }

  receive(msg) {
    if ('QMP' in msg) {
      this.greeting = msg.QMP;
      this.send('qmp_capabilities').then(() => {
        this.retryMs = 250;
        this.setState('ready');
      }, () => this.ws.close());
      return;
    }
    if ('event' in msg) {
      for (const fn of this.eventListeners) fn(msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if ('error' in msg) p.reject(new QmpError(msg.error.class, msg.error.desc));
    else p.resolve(msg.return);
  }

  send(execute, args) {
    const id = this.nextId++;
    const msg = { execute, id };
    if (args !== undefined) msg.arguments = args;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new QmpError('Disconnected', 'not connected to vifd'));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify(msg));
    });
  }

  /** A command once negotiated. */
  execute(execute, args) {
    if (this.state !== 'ready') return Promise.reject(new QmpError('Disconnected', 'not connected to vifd'));
    return this.send(execute, args);
  }
}
