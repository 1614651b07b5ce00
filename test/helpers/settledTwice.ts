/**
 * Run as a process of its own (`http.test.ts`): Jest's sandbox does not see `multipleResolves`.
 * One transport against a local server whose first answer is cut mid-body and whose second never
 * ends (so the attempt times out), the third whole. Prints one JSON line: every promise that
 * Node saw settled twice (the runtime logs each at ERROR, with a stack) and the retry warnings.
 */
import { createServer } from 'http';

import { HttpTransport } from '../../src/abm/http';
import { listenLocal } from './localServer';

const settledTwice: string[] = [];
process.on('multipleResolves', (type, _promise, value) => {
  settledTwice.push(`${type}: ${value instanceof Error ? value.message : String(value)}`);
});

async function main(): Promise<void> {
  let answered = 0;
  const server = createServer((_req, res) => {
    answered += 1;
    const body = JSON.stringify({ data: Array.from({ length: 20_000 }, (_, i) => i) });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    if (answered === 1) res.write(body.slice(0, body.length / 2), () => res.socket?.destroy());
    else if (answered === 2) res.write(body.slice(0, 100));
    else res.end(body);
  });
  const url = `${await listenLocal(server)}/v1/orgDevices`;
  const warnings: string[] = [];
  const transport = new HttpTransport({
    // Long enough that the third, whole answer is never cut by it on a loaded machine.
    requestTimeoutMs: 2000,
    baseBackoffMs: 1,
    logger: { debug: () => undefined, info: () => undefined, warn: (_, m) => warnings.push(m) },
  });
  const response = await transport.request({ endpoint: 'GET /v1/orgDevices', url });
  transport.destroy();
  // Late settles arrive as the sockets close.
  await new Promise((resolve) => setTimeout(resolve, 200));
  server.close();
  const items = (response.json as { data: unknown[] }).data.length;
  console.log(JSON.stringify({ status: response.status, items, warnings, settledTwice }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
