// QMP over a WebSocket: one WebSocket message per QMP message, each way. Outgoing messages lose
// the CRLF the line framing of a stream socket needs; incoming ones are fed to the session's
// JSON stream parser as they are. Whoever accepted the upgrade (the dashboard) has already
// checked Origin and token; this adapter only moves messages.

import type { RawData, WebSocket } from 'ws';
import type { QmpServer } from '../server.js';
import type { QmpSession } from '../session.js';

/** A browser that stops reading must not make vifd buffer without bound. */
export const WEBSOCKET_SEND_BUFFER_MAX = 16 * 1024 * 1024;

const OPEN = 1;

export function attachWebSocket(qmp: QmpServer, socket: WebSocket, pretty = false): QmpSession {
  const session = qmp.openSession({
    write: (text) => {
      if (socket.readyState !== OPEN) return;
      if (socket.bufferedAmount > WEBSOCKET_SEND_BUFFER_MAX) {
        socket.terminate();
        return;
      }
      socket.send(text.endsWith('\r\n') ? text.slice(0, -2) : text);
    },
    close: () => {
      if (socket.readyState === OPEN) socket.close(1000);
    },
  }, pretty);
  socket.on('message', (data: RawData) => session.receive(toBytes(data)));
  socket.on('close', () => session.close());
  socket.on('error', () => session.close());
  return session;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
