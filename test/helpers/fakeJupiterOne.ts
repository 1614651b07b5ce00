import { createServer } from 'http';

import { closeServer, listenLocal } from './localServer';

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  account?: string;
  body: unknown;
}

/**
 * A stand-in for JupiterOne's synchronization API, as SDK 8's `j1-integration sync` uses it: one
 * job, which takes every upload and event, then finalizes. Records each request.
 */
export async function fakeSynchronizationApi(): Promise<{
  url: string;
  requests: RecordedRequest[];
  stop: () => Promise<void>;
}> {
  const requests: RecordedRequest[] = [];
  const job = { id: 'job-1', integrationJobId: 'integration-job-1', status: 'AWAITING_UPLOADS' };
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      requests.push({
        method: req.method ?? '',
        path,
        authorization: req.headers.authorization,
        account: req.headers['lifeomic-account'] as string | undefined,
        body: text ? JSON.parse(text) : undefined,
      });
      const base = '/persister/synchronization/jobs';
      let answer: unknown;
      if (req.method === 'POST' && path === base) answer = { job };
      else if (req.method === 'POST' && path === `${base}/job-1/finalize`) {
        answer = { job: { ...job, status: 'FINALIZE_PENDING' } };
      } else if (
        req.method === 'POST' &&
        /^\/persister\/synchronization\/jobs\/job-1\/(entities|relationships|events)$/.test(path)
      ) {
        answer = {};
      }
      res.writeHead(answer ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer ?? { error: `no ${req.method} ${path}` }));
    });
  });
  const url = await listenLocal(server);
  return { url, requests, stop: () => closeServer(server) };
}
