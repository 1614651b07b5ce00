/**
 * `npm run sandbox -- [options]`: a local ABM API on loopback until SIGINT/SIGTERM.
 * With --json, stdout gets exactly one JSON line so a parent process can read the endpoints.
 */
// First: it reads the parent process as this one starts (see parentWatch.ts).
import { whenNpmParentGoes } from '../helpers/parentWatch';

import {
  isLoopbackHost,
  startSandbox,
  validateDataQuirks,
  validateFaultConfig,
  type Sandbox,
  type SandboxOptions,
} from './index';
import type { FaultConfig, LatencyRule } from './types';

const USAGE = `Usage: npm run sandbox -- [options]
  --port N            listen port (default 0: a free port)
  --host H            listen address (default 127.0.0.1); not loopback needs --allow-remote
  --allow-remote      allow a non-loopback --host (the control endpoints are unauthenticated)
  --seed N            fleet and credential seed (default 1)
  --devices N         fleet size, 1..1000000 (default 2000)
  --servers N         MDM servers, 4..1000 (default 6)
  --token-ttl S       access token lifetime in seconds (default 3600)
  --latency MS        least time to answer every request, the sandbox's own work included
  --jitter MS         extra random latency up to MS
  --rps N             requests per second before 429 + Retry-After
  --per-minute N      requests per minute before 429 + Retry-After (instead of --rps)
  --faults JSON       a FaultConfig (merged under the flags above)
  --quirks JSON       DataQuirks
  --json              print one JSON line {apiBaseUrl, tokenUrl, credentials, schoolCredentials}
                      (default: .env lines; the School account's as comments)
  --school            .env lines for the School account, the Business account's as comments
  --stats-on-exit     print the statistics as JSON on stderr when stopping
  --help`;

/** A command line the sandbox cannot run with; main() prints it with the usage and exits 2. */
export class UsageError extends Error {}

function fail(message: string): never {
  throw new UsageError(message);
}

export function parseArgs(argv: string[]): {
  options: SandboxOptions;
  json: boolean;
  school: boolean;
  statsOnExit: boolean;
  help: boolean;
} {
  const options: SandboxOptions = {};
  let json = false;
  let school = false;
  let statsOnExit = false;
  let help = false;
  let faults: FaultConfig = {};
  let latency: number | undefined;
  let jitter: number | undefined;
  let rps: number | undefined;
  let perMinute: number | undefined;
  const number = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || value === '' || !Number.isFinite(n)) fail(`${flag} needs a number`);
    return n;
  };
  const parsed = (flag: string, value: string | undefined): unknown => {
    try {
      return JSON.parse(value ?? '');
    } catch {
      return fail(`${flag} needs JSON`);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--port':
        options.port = number(flag, value());
        break;
      case '--host':
        options.host = value() ?? fail('--host needs a value');
        break;
      case '--allow-remote':
        options.allowRemote = true;
        break;
      case '--seed':
        options.seed = number(flag, value());
        break;
      case '--devices':
        options.devices = number(flag, value());
        break;
      case '--servers':
        options.servers = number(flag, value());
        break;
      case '--token-ttl':
        options.tokenTtlSeconds = number(flag, value());
        break;
      case '--latency':
        latency = number(flag, value());
        break;
      case '--jitter':
        jitter = number(flag, value());
        break;
      case '--rps':
        rps = number(flag, value());
        break;
      case '--per-minute':
        perMinute = number(flag, value());
        break;
      case '--faults':
        faults = parsed(flag, value()) as FaultConfig;
        break;
      case '--quirks': {
        const quirks = parsed(flag, value());
        try {
          validateDataQuirks(quirks);
        } catch (error) {
          fail(`--quirks: ${(error as Error).message}`);
        }
        options.quirks = quirks;
        break;
      }
      case '--school':
        school = true;
        break;
      case '--json':
        json = true;
        break;
      case '--stats-on-exit':
        statsOnExit = true;
        break;
      case '--help':
        help = true;
        break;
      default:
        fail(`unknown option ${arg}`);
    }
  }
  if (latency !== undefined || jitter !== undefined) {
    const rule: LatencyRule = { ms: latency ?? 0, jitterMs: jitter ?? 0 };
    faults = { ...faults, latency: [rule, ...([] as LatencyRule[]).concat(faults.latency ?? [])] };
  }
  if (rps !== undefined) faults = { ...faults, rateLimit: { ...faults.rateLimit, rps } };
  if (perMinute !== undefined) {
    faults = { ...faults, rateLimit: { ...faults.rateLimit, perMinute } };
  }
  try {
    validateFaultConfig(faults);
  } catch (error) {
    fail(
      `--faults (with --latency, --jitter, --rps, --per-minute merged in): ${(error as Error).message}`,
    );
  }
  options.faults = faults;
  if (options.host !== undefined && !isLoopbackHost(options.host) && !options.allowRemote) {
    fail(
      `--host ${options.host} is not a loopback address; the control endpoints are unauthenticated ` +
        'and anyone who reaches the port can change faults: add --allow-remote to do it anyway',
    );
  }
  return { options, json, school, statsOnExit, help };
}

/** One-line PEM with literal \n, the way keys usually travel in .env files. */
/**
 * The `.env` lines for one account (the Business one, or the School one with `--school`), and the
 * other account's as comments.
 */
export function envText(
  sandbox: Pick<Sandbox, 'apiBaseUrl' | 'tokenUrl' | 'credentials' | 'schoolCredentials' | 'fleet'>,
  school: boolean,
): string {
  const [used, other] = school
    ? [sandbox.schoolCredentials, sandbox.credentials]
    : [sandbox.credentials, sandbox.schoolCredentials];
  const lines = (account: typeof used, prefix: string): string[] => [
    `${prefix}CLIENT_ID=${account.clientId}`,
    `${prefix}KEY_ID=${account.keyId}`,
    `${prefix}PRIVATE_KEY=${envValue(account.privateKey)}`,
  ];
  const otherName = school ? 'Business' : 'School';
  return [
    `# ABM sandbox: ${sandbox.fleet.deviceCount} devices, ${sandbox.fleet.servers.length} servers, seed ${sandbox.fleet.seed}${school ? ', the School account' : ''}`,
    `# stats: curl ${sandbox.apiBaseUrl}/__sandbox/stats`,
    ...lines(used, ''),
    `API_BASE_URL=${sandbox.apiBaseUrl}`,
    `TOKEN_URL=${sandbox.tokenUrl}`,
    `# ${otherName} account (scope ${other.scope}), same API_BASE_URL and TOKEN_URL:`,
    ...lines(other, '# '),
    '',
  ].join('\n');
}

function envValue(pem: string): string {
  return `"${pem.trim().replace(/\n/g, '\\n')}"`;
}

function usageExit(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) usageExit(error.message);
    throw error;
  }
  const { options, json, school, statsOnExit, help } = args;
  if (help) {
    console.log(USAGE);
    process.exit(0);
  }
  let sandbox;
  try {
    sandbox = await startSandbox(options);
  } catch (error) {
    usageExit(`cannot start the sandbox: ${(error as Error).message}`);
  }
  if (options.allowRemote && !isLoopbackHost(options.host ?? '127.0.0.1')) {
    console.error(
      `warning: listening on ${sandbox.apiBaseUrl}; anyone who reaches it can use the control ` +
        'endpoints, and the credentials printed here are valid there',
    );
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        apiBaseUrl: sandbox.apiBaseUrl,
        tokenUrl: sandbox.tokenUrl,
        credentials: sandbox.credentials,
        schoolCredentials: sandbox.schoolCredentials,
      })}\n`,
    );
  } else {
    process.stdout.write(envText(sandbox, school));
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const stats = sandbox.stats();
    sandbox
      .stop()
      .then(() => {
        if (statsOnExit) process.stderr.write(`${JSON.stringify(stats)}\n`);
        process.exit(0);
      })
      .catch((error: unknown) => {
        console.error(error);
        process.exit(1);
      });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Stopped by npm's pid under `npm run sandbox`: it would keep its port with nothing to stop it.
  whenNpmParentGoes('sandbox', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
