/**
 * `npm start`: the SDK's `j1-integration collect`, run in this process, with
 * what the bare CLI leaves out for someone running it by hand or from a
 * scheduler:
 *
 * - The settings (the environment, then `.env` in the working directory, read
 *   the way the SDK reads them) are checked by the collector's own rules
 *   before anything starts. A missing or malformed setting ends in one
 *   message that names it and says what to fix, instead of the SDK loader's
 *   stack trace. An empty CHECK_RELEASED_DEVICES counts as unset, as an empty
 *   value does for every other optional setting.
 * - An error that stops the run (Apple refusing the credentials, say) is
 *   printed as its message, without a stack trace. Only an error the
 *   collector does not know, which is a defect, keeps its trace.
 * - The exit status says how the run went: 0 when every step completed, 1
 *   when the collection did not run, 2 when it ran but is incomplete. The
 *   bare CLI exits 0 whenever its steps ran, even when one failed.
 *
 * Arguments go to `j1-integration collect` (`npm start -- --help` lists them).
 * Runs under `node -r ts-node/register/transpile-only`: the CLI registers that
 * same module to load `src/`, so TypeScript is compiled once.
 */
import { promises as fs } from 'fs';
import path from 'path';

import { FIELD_ENV, IntegrationConfig, instanceConfigFields, parseConfig } from '../../src/config';
import { readSummary, summaryProblems } from '../helpers/summary';

export const EXIT_COMPLETE = 0;
export const EXIT_NOT_RUN = 1;
export const EXIT_INCOMPLETE = 2;

type Fields = keyof IntegrationConfig & string;

/** The instance config the SDK's loader would build from these variables, before its type checks. */
export function configFromEnvironment(env: NodeJS.ProcessEnv): Partial<IntegrationConfig> {
  const config: Record<string, unknown> = {};
  for (const field of Object.keys(instanceConfigFields) as Fields[]) {
    const value = env[FIELD_ENV[field]];
    if (value !== undefined) config[field] = value;
  }
  return config as Partial<IntegrationConfig>;
}

/**
 * Rewrites each boolean setting into what the SDK's loader accepts (exactly
 * `true` or `false`); blank is `false`, as the collector reads it. Removing
 * the variable would not do: the loader reads .env again, and would bring the
 * blank back. Call only once the collector's rules have accepted the value.
 */
export function normalizeFlags(env: NodeJS.ProcessEnv): void {
  for (const [field, spec] of Object.entries(instanceConfigFields) as Array<
    [Fields, { type: string }]
  >) {
    const name = FIELD_ENV[field];
    const value = env[name];
    if (spec.type !== 'boolean' || value === undefined) continue;
    env[name] = value.trim().toLowerCase() || 'false';
  }
}

/** An error the SDK or the collector raised on purpose carries a code, and a message meant for the user. */
function isIntegrationError(err: unknown): err is Error & { code: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

async function describeSettingsSource(cwd: string): Promise<string> {
  const envFile = path.join(cwd, '.env');
  const present = await fs.stat(envFile).then(
    () => true,
    () => false,
  );
  return present
    ? `Settings come from the environment, then from ${envFile}.`
    : `Settings come from the environment, then from ${envFile}, which does not exist: copy .env.example there and fill it in.`;
}

/**
 * Runs one collection; returns the exit status. Everything it prints for
 * the user goes to stderr, after the CLI's own output.
 */
export async function start(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // The SDK loads the AWS SDK v2, whose end-of-support notice says nothing
  // about this run. Set before the SDK's modules load, below.
  env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE ??= '1';
  const runtime = await import('@jupiterone/integration-sdk-runtime');
  const { createCli } = await import('@jupiterone/integration-sdk-cli');

  const wantsHelp = args.some((arg) => arg === '-h' || arg === '--help');
  if (!wantsHelp) {
    // With no fields this loads .env (dotenv, then its ${VAR} expansion) and
    // checks nothing: the same .env the CLI reads, which never overrides a
    // variable that is already set.
    runtime.loadConfigFromEnvironmentVariables({});
    try {
      parseConfig(configFromEnvironment(env));
    } catch (err) {
      if (!isIntegrationError(err)) throw err;
      console.error(
        `\nThe collection did not run: ${err.message}\n${await describeSettingsSource(process.cwd())}`,
      );
      return EXIT_NOT_RUN;
    }
    normalizeFlags(env);
  }

  try {
    await createCli().parseAsync(['node', 'j1-integration', 'collect', ...args]);
  } catch (err) {
    if (!isIntegrationError(err)) {
      console.error('\nThe collection stopped on an error the collector does not expect:', err);
      return EXIT_NOT_RUN;
    }
    console.error(`\nThe collection did not run: ${err.message}`);
    return EXIT_NOT_RUN;
  }
  if (wantsHelp) return EXIT_COMPLETE;

  // The CLI writes to <project path>/.j1-integration and says where in this variable.
  const storage = env.JUPITERONE_INTEGRATION_STORAGE_DIRECTORY ?? path.resolve('.j1-integration');
  const problems = summaryProblems(await readSummary(storage));
  if (problems.length > 0) {
    console.error(
      `\nThe collection is incomplete: ${problems.join('; ')}. ` +
        `${storage} holds what was collected; the log above gives each failed step's error.`,
    );
    return EXIT_INCOMPLETE;
  }
  return EXIT_COMPLETE;
}

if (require.main === module) {
  start(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error('\nThe collection stopped on an error the collector does not expect:', err);
      process.exitCode = EXIT_NOT_RUN;
    },
  );
}
