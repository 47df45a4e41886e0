// The web dashboard: static files for the page and one WebSocket route, /qmp, where each
// connection is a QMP session on vifd's own dispatcher. There is no second API: the page
// speaks QMP, like any other client.

import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { QmpServer } from '../qmp/server.js';
import { attachWebSocket } from '../qmp/transports/websocket.js';
import { checkOrigin, checkRequest, isLoopbackHost, TOKEN_COOKIE, type AccessPolicy } from './access.js';

export interface DashboardOptions {
  host: string;
  port: number;
  token?: string | null;
}

/** A browser sends small commands; anything bigger than this is not the page. */
const WS_MAX_PAYLOAD = 1024 * 1024;

/** src/dashboard/web, found from the package root whether this runs from src/ or dist/src/. */
export function webRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'dashboard', 'web'))) {
      return join(dir, 'src', 'dashboard', 'web');
    }
    dir = resolve(dir, '..');
  }
  throw new Error('src/dashboard/web not found above ' + fileURLToPath(import.meta.url));
}

function uplotRoot(): string {
  return dirname(createRequire(import.meta.url).resolve('uplot'));
}

/** The options a listening dashboard needs; a non-loopback address without a token is refused. */
export function checkDashboardOptions(opts: DashboardOptions): void {
  if (!isLoopbackHost(opts.host) && !opts.token) {
    throw new Error(`-dashboard: ${opts.host} is not a loopback address, so token=SECRET is required`);
  }
}

/** Builds the fastify app (not listening: tests use inject). */
export async function buildDashboard(qmp: QmpServer, opts: DashboardOptions): Promise<FastifyInstance> {
  checkDashboardOptions(opts);
  const policy: AccessPolicy = { host: opts.host, token: opts.token ?? null };
  const app = Fastify({ logger: false });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const facts = { url: req.url, headers: req.headers };
    const access = checkRequest(policy, facts);
    if (!access.ok) return reply.code(access.status).type('text/plain').send(access.reason + '\n');
    if (req.headers.upgrade?.toLowerCase() === 'websocket') {
      const origin = checkOrigin(facts);
      if (!origin.ok) return reply.code(origin.status).type('text/plain').send(origin.reason + '\n');
    } else if (access.setCookie && policy.token !== null) {
      // The page's own requests (scripts, styles, the WebSocket) then carry the token.
      reply.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(policy.token)}; Path=/; HttpOnly; SameSite=Strict`);
    }
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    return undefined;
  });

  await app.register(fastifyWebsocket, { options: { maxPayload: WS_MAX_PAYLOAD } });
  app.get('/qmp', { websocket: true }, (socket) => {
    attachWebSocket(qmp, socket);
  });
  await app.register(fastifyStatic, { root: webRoot(), prefix: '/', index: ['index.html'] });
  await app.register(fastifyStatic, { root: uplotRoot(), prefix: '/vendor/uplot/', decorateReply: false });
  return app;
}

export class Dashboard {
  /** Every connection, upgrade requests included: a refused upgrade keeps its socket open. */
  private readonly sockets = new Set<Socket>();

  private urlText = '';

  private constructor(readonly app: FastifyInstance) {
    app.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  static async listen(qmp: QmpServer, opts: DashboardOptions): Promise<Dashboard> {
    const app = await buildDashboard(qmp, opts);
    const dashboard = new Dashboard(app);
    try {
      await app.listen({ host: opts.host, port: opts.port });
    } catch (err) {
      await app.close();
      throw err;
    }
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    // The printed URL carries the token, so opening it is all a user has to do.
    const query = opts.token ? `?token=${encodeURIComponent(opts.token)}` : '';
    dashboard.urlText = `http://${host}:${port}/${query}`;
    return dashboard;
  }

  /** Where to point a browser (with the token, when there is one). */
  get url(): string {
    return this.urlText;
  }

  get port(): number {
    const addr = this.app.server.address();
    return typeof addr === 'object' && addr !== null ? addr.port : 0;
  }

  async close(): Promise<void> {
    for (const client of this.app.websocketServer?.clients ?? []) client.terminate();
    for (const socket of this.sockets) socket.destroy();
    await this.app.close();
  }
}
