import { createServer, type IncomingMessage, type ServerResponse } from 'http';
import type { AddressInfo, Socket } from 'net';
import type { KeyObject } from 'crypto';
import { AuthService, type AccountKind, type SandboxAccount } from './auth';
import { CursorCodec } from './cursor';
import { isLoopbackHost } from '../../src/loopback';
import { FaultEngine, validateDataQuirks, validateFaultConfig } from './faults';
import { clampDevices, clampServers, GeneratedFleet } from './fleet';
import {
  apiError,
  faultReply,
  oauthReply,
  route,
  SandboxHandler,
  sendReply,
  type Reply,
} from './server';
import { StatsRecorder } from './stats';
import type { DataQuirks, FaultConfig, FaultRule, Fleet, SandboxStats } from './types';

export * from './types';
export type { SandboxAccount, AccountKind } from './auth';
export { APPLE_TOKEN_AUDIENCE, CLIENT_ASSERTION_TYPE } from './auth';
export { validateDataQuirks, validateFaultConfig } from './faults';

export interface SandboxOptions {
  /** Listen address, default 127.0.0.1. Anything but loopback needs `allowRemote`. */
  host?: string;
  /**
   * Allow a non-loopback `host`. The control endpoints are unauthenticated and anyone who can
   * reach the port can change faults or read statistics, so this is off by default.
   */
  allowRemote?: boolean;
  port?: number;
  seed?: number;
  /** 1..1_000_000, default 2000. */
  devices?: number;
  /** 4..1000, default 6. */
  servers?: number;
  tokenTtlSeconds?: number;
  faults?: FaultConfig;
  quirks?: DataQuirks;
  /** Clock in epoch milliseconds for token expiry, assertion checks and the rate limit. */
  now?: () => number;
}

export interface Sandbox {
  apiBaseUrl: string;
  tokenUrl: string;
  credentials: SandboxAccount;
  schoolCredentials: SandboxAccount;
  accounts: SandboxAccount[];
  registerAccount(kind: AccountKind, opts?: { publicKey?: KeyObject | string }): SandboxAccount;
  fleet: Fleet;
  stats(): SandboxStats;
  resetStats(): void;
  setFaults(faults: FaultConfig): void;
  revokeAllTokens(): void;
  stop(): Promise<void>;
}

const CONTROL_PREFIX = '/__sandbox/';
const MAX_FORM_BYTES = 64 * 1024;

/** Whether a listen address only accepts connections from this machine: the collector's own test. */
export { isLoopbackHost };

function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && options.allowRemote !== true) {
    throw new Error(
      `refusing to listen on ${host}, which is not a loopback address: the control endpoints are ` +
        'unauthenticated; pass allowRemote (CLI: --allow-remote) to do it anyway',
    );
  }
  const seed = options.seed ?? 1;
  const now = options.now ?? Date.now;
  validateDataQuirks(options.quirks ?? {});
  const ttl = options.tokenTtlSeconds;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1)) {
    // OAuth's expires_in is whole seconds, and a token that expires at once serves no request.
    throw new Error(`tokenTtlSeconds must be an integer >= 1, not ${String(ttl)}`);
  }
  const quirks: DataQuirks = { ...options.quirks };
  const stats = new StatsRecorder();
  const auth = new AuthService(seed, now, options.tokenTtlSeconds ?? 3600);
  const cursors = new CursorCodec(seed, quirks.cursorsWithReservedCharacters === true);
  let faults = new FaultEngine(options.faults ?? {}, now);

  const sockets = new Set<Socket>();
  /** Answers finished on each connection (`dropConnectionAfter`). */
  const answeredOn = new WeakMap<Socket, number>();
  /** Connections closed by `dropConnectionAfter`: what still comes on them is not read. */
  const dropped = new WeakSet<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const server = createServer({ keepAlive: true });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const apiBaseUrl = `http://${urlHost}:${address.port}`;

  const fleet = new GeneratedFleet({
    seed,
    devices: clampDevices(options.devices ?? 2000),
    servers: clampServers(options.servers ?? 6),
    baseUrl: apiBaseUrl,
    unknownAssignments: quirks.assignmentsToUnknownDevices,
    listedTwice: quirks.devicesListedTwice,
  });
  const handler = new SandboxHandler({
    fleet,
    auth,
    cursors,
    quirks,
    baseUrl: apiBaseUrl,
    faults: () => faults,
    stats,
  });
  const business = auth.register('business');
  const school = auth.register('school');

  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (ms <= 0) return resolve();
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const destroy = (res: ServerResponse): void => {
    res.socket?.destroy();
  };

  async function control(
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
  ): Promise<void> {
    const body = req.method === 'POST' ? await readBody(req, 256 * 1024) : '';
    const ok = (value: unknown): void =>
      sendReply(res, {
        status: 200,
        body: JSON.stringify(value),
        headers: { 'content-type': 'application/json' },
      });
    const action = `${req.method} ${pathname.slice(CONTROL_PREFIX.length)}`;
    try {
      switch (action) {
        case 'GET stats':
          return ok(stats.snapshot());
        case 'POST reset-stats':
          stats.reset();
          return ok({ ok: true });
        case 'POST faults':
          sandbox.setFaults(JSON.parse(body || '{}') as FaultConfig);
          return ok({ ok: true });
        case 'POST revoke-tokens':
          auth.revokeAll();
          return ok({ ok: true });
        default:
          return sendReply(res, apiError(404, `No sandbox control endpoint ${action}`));
      }
    } catch (error) {
      return sendReply(res, apiError(400, (error as Error).message));
    }
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (dropped.has(req.socket)) {
      // A request sent on a connection the sandbox has closed: a real server never reads it.
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', apiBaseUrl);
    if (url.pathname.startsWith(CONTROL_PREFIX)) return control(req, res, url.pathname);

    const where = route(url.pathname);
    const endpoint = where.endpoint;
    const engine = faults;
    let answered = false;
    const answer = (status: string): void => {
      if (answered) return;
      answered = true;
      stats.answered(endpoint, status);
    };
    stats.arrived();
    let departed = false;
    const depart = (): void => {
      if (departed) return;
      departed = true;
      stats.departed();
    };
    res.on('close', depart);
    const dropAfter = engine.config.dropConnectionAfter;
    if (dropAfter !== undefined) {
      const socket = req.socket;
      res.on('finish', () => {
        const answered = (answeredOn.get(socket) ?? 0) + 1;
        answeredOn.set(socket, answered);
        if (answered < dropAfter || dropped.has(socket)) return;
        stats.fault('dropConnection');
        // Closed once the answer is flushed, whatever the client has sent since.
        dropped.add(socket);
        socket.end();
      });
    }

    const cap = engine.config.maxConcurrent;
    if (cap && stats.inFlight > cap.limit) {
      stats.fault('concurrency');
      if (cap.action === '503') {
        answer('503');
        return sendReply(res, apiError(503, `More than ${cap.limit} requests in flight`));
      }
      answer('reset');
      depart();
      return destroy(res);
    }

    const arrivedAt = performance.now();
    const body = endpoint === 'token' ? await readBody(req, MAX_FORM_BYTES) : '';
    // Decisions are taken on arrival, so rate windows and nth counters follow arrival order.
    const retryAfterRps = engine.rateLimited(endpoint);
    const rule = retryAfterRps === undefined ? engine.pick(endpoint) : undefined;
    const wait = engine.delayFor(endpoint);
    if (wait > 0) stats.fault('latency');
    // Latency is the time to answer, counted from arrival: an API answer is made while it runs,
    // as a server's own work is part of its response time, so a page of 1,000 devices takes
    // `latency`, not `latency` plus the time to build it. A token is issued after it (a token
    // for a client that has left is never counted as issued).
    const early =
      endpoint !== 'token' && retryAfterRps === undefined && (!rule || usesRealAnswer(rule.kind))
        ? handler.api(req, url, where)
        : undefined;
    await delay(wait - (performance.now() - arrivedAt));
    if (stopped || res.destroyed) {
      answer('aborted');
      return;
    }
    // Dated when answered, as a rule's Retry-After date below is.
    res.setHeader('date', new Date(now()).toUTCString());

    if (retryAfterRps !== undefined) {
      stats.fault('rateLimit');
      answer('429');
      const per = engine.config.rateLimit?.perMinute !== undefined ? 'minute' : 'second';
      const detail = `Too many requests per ${per}; retry later`;
      const headers = { 'retry-after': retryAfterRps };
      // The token endpoint answers in OAuth's form, whatever refuses the request.
      return sendReply(
        res,
        endpoint === 'token'
          ? oauthReply(429, 'invalid_request', detail, headers)
          : apiError(429, detail, { headers }),
      );
    }
    if (rule) stats.fault(rule.kind);
    if (rule?.kind === 'hang') {
      answer('hang');
      return;
    }
    if (rule) {
      const replaced = faultReply(
        rule,
        rule.kind === 'tooManyRequests' ? engine.retryAfterValue(rule) : undefined,
        endpoint,
      );
      if (replaced) {
        answer(String(replaced.status));
        return sendReply(res, replaced);
      }
    }

    const reply: Reply =
      early ??
      (endpoint === 'token'
        ? handler.token(req.method ?? 'GET', req.headers['content-type'], body)
        : handler.api(req, url, where));

    if (rule?.kind === 'truncate' || rule?.kind === 'reset') {
      const full = Buffer.from(reply.body);
      if (rule.kind === 'truncate') {
        const keep = Math.min(
          full.length - 1,
          Math.max(0, rule.keepBytes ?? Math.floor(full.length / 2)),
        );
        answer(String(reply.status));
        return sendReply(res, { ...reply, body: full.subarray(0, keep) });
      }
      const part = Math.min(
        full.length - 1,
        Math.max(0, rule.afterBytes ?? Math.floor(full.length / 2)),
      );
      answer('reset');
      res.writeHead(reply.status, { ...reply.headers, 'content-length': String(full.length) });
      res.write(full.subarray(0, part), () => destroy(res));
      return;
    }

    answer(String(reply.status));
    if (reply.pageKey !== undefined && reply.status === 200) stats.page(endpoint, reply.pageKey);
    sendReply(res, reply);
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // The answer's Date is the sandbox's clock, as its Retry-After dates are: a client reads
    // those against it (a clock set apart from the machine's plays a server whose clock is off).
    res.setHeader('date', new Date(now()).toUTCString());
    onRequest(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendReply(res, apiError(500, `Sandbox bug: ${(error as Error).message}`));
      else destroy(res);
    });
  });

  const sandbox: Sandbox = {
    apiBaseUrl,
    tokenUrl: `${apiBaseUrl}/auth/oauth2/token`,
    credentials: business,
    schoolCredentials: school,
    get accounts() {
      return auth.allAccounts;
    },
    registerAccount: (kind, opts) => auth.register(kind, opts),
    fleet,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    setFaults(config: FaultConfig) {
      validateFaultConfig(config);
      faults = new FaultEngine(config, now);
    },
    revokeAllTokens: () => auth.revokeAll(),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
  return sandbox;
}

/** Fault kinds that send (part of) the real answer rather than one of their own. */
function usesRealAnswer(kind: FaultRule['kind']): boolean {
  return kind === 'truncate' || kind === 'reset';
}
