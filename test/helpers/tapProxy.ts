import { createServer, request as httpRequest, type IncomingMessage } from 'http';
import type { Socket } from 'net';

import { closeServer, listenLocal } from './localServer';

/** One request as the proxy saw it, before it was forwarded. */
export interface TappedRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A canned answer sent instead of forwarding. */
export interface CannedAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/**
 * Decides what happens to one request: `undefined` forwards it unchanged,
 * `{ answer }` answers without forwarding, `{ body }` forwards a rewritten body.
 */
export type Intercept = (
  request: TappedRequest,
) => { answer: CannedAnswer } | { body: string } | undefined;

export interface TapProxy {
  /** Origin of the proxy, without `/v1`; use as API_BASE_URL. */
  apiBaseUrl: string;
  /** The upstream token URL, through the proxy. */
  tokenUrl: string;
  /** Every access token the upstream token endpoint handed out through the proxy. */
  accessTokens: string[];
  /** Every client assertion sent to the token endpoint through the proxy. */
  assertions: string[];
  /** Method, path and final status of every request, in arrival order. */
  log: Array<{ method: string; path: string; status: number | 'reset' | 'canned' }>;
  setIntercept(intercept: Intercept | undefined): void;
  stop(): Promise<void>;
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.on('aborted', () => reject(new Error('aborted')));
  });
}

/**
 * A loopback HTTP proxy in front of the sandbox. It records the secrets that
 * cross it (client assertions, access tokens) so tests can look for them in
 * output, and it can answer or rewrite chosen requests, for answers the
 * sandbox's fault rules do not produce (an Apple-style 403, a 404 on a
 * deleted server, a changed scope). Faults upstream pass through: a reset
 * upstream resets the client's connection too.
 */
export async function startTapProxy(upstreamOrigin: string): Promise<TapProxy> {
  const upstream = new URL(upstreamOrigin);
  const sockets = new Set<Socket>();
  let intercept: Intercept | undefined;
  const accessTokens: string[] = [];
  const assertions: string[] = [];
  const log: TapProxy['log'] = [];

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', upstreamOrigin);
    const entry: TapProxy['log'][number] = {
      method: req.method ?? 'GET',
      path: url.pathname,
      status: 'reset',
    };
    log.push(entry);
    let body: string;
    try {
      body = (await readAll(req)).toString('utf8');
    } catch {
      res.socket?.destroy();
      return;
    }
    const isToken = url.pathname.endsWith('/auth/oauth2/token');
    const decision = intercept?.({ method: entry.method, url, headers: req.headers, body });
    if (decision && 'answer' in decision) {
      entry.status = 'canned';
      const payload = Buffer.from(decision.answer.body);
      res.writeHead(decision.answer.status, {
        'content-type': 'application/json',
        ...decision.answer.headers,
        'content-length': String(payload.length),
      });
      res.end(payload);
      return;
    }
    if (decision && 'body' in decision) body = decision.body;
    if (isToken) {
      const assertion = new URLSearchParams(body).get('client_assertion');
      if (assertion) assertions.push(assertion);
    }

    const headers = { ...req.headers, host: upstream.host };
    delete headers['content-length'];
    const payload = Buffer.from(body);
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: { ...headers, 'content-length': String(payload.length) },
      },
      (upstreamRes) => {
        readAll(upstreamRes).then(
          (answer) => {
            entry.status = upstreamRes.statusCode ?? 0;
            if (isToken && upstreamRes.statusCode === 200) {
              try {
                const token = JSON.parse(answer.toString('utf8')).access_token;
                if (typeof token === 'string') accessTokens.push(token);
              } catch {
                // A truncated token answer carries no usable token.
              }
            }
            const outHeaders = { ...upstreamRes.headers };
            delete outHeaders['transfer-encoding'];
            delete outHeaders['connection'];
            delete outHeaders['keep-alive'];
            res.writeHead(upstreamRes.statusCode ?? 502, {
              ...outHeaders,
              'content-length': upstreamRes.headers['content-length'] ?? String(answer.length),
            });
            res.end(answer);
          },
          () => res.socket?.destroy(),
        );
      },
    );
    forward.on('error', () => res.socket?.destroy());
    // A client that gives up (timeout) closes its socket: let the upstream request go too.
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
    forward.end(payload);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const apiBaseUrl = await listenLocal(server);
  return {
    apiBaseUrl,
    tokenUrl: `${apiBaseUrl}/auth/oauth2/token`,
    accessTokens,
    assertions,
    log,
    setIntercept(next) {
      intercept = next;
    },
    async stop() {
      const closed = closeServer(server);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** An Apple-style error answer: `{"errors": [{"status": "<string>", "code", "title", "detail"}]}`. */
export function appleError(status: number, code: string, detail: string): CannedAnswer {
  return {
    status,
    body: JSON.stringify({
      errors: [
        {
          id: `tap-${status}-${code}`,
          status: String(status),
          code,
          title: code.replace(/_/g, ' ').toLowerCase(),
          detail,
        },
      ],
    }),
  };
}
