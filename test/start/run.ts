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
 * - The exit status says how the run went: 0 when every step it ran
 *   completed, 1 when the collection did not run, 2 when it ran but is
 *   incomplete. The bare CLI exits 0 whenever its steps ran, even when one
 *   failed.
 *
 * Arguments go to `j1-integration collect` (`npm start -- --help` lists them).
 * Runs under `node -r ts-node/register/transpile-only`: the CLI registers that
 * same module to load `src/`, so TypeScript is compiled once.
 */
// First: it reads the parent process as this one starts (see parentWatch.ts).
import { whenNpmParentGoes } from '../helpers/parentWatch';

import { promises as fs } from 'fs';
import path from 'path';

import { IntegrationError } from '@jupiterone/integration-sdk-core';

import {
  AbmConfig,
  FIELD_ENV,
  IntegrationConfig,
  instanceConfigFields,
  parseConfig,
} from '../../src/config';
import { readSummary, summaryProblems } from '../helpers/summary';
import { LOCK_FILE, LockResult, lockProject, projectDirectory } from './lock';

export const EXIT_COMPLETE = 0;
export const EXIT_NOT_RUN = 1;
export const EXIT_INCOMPLETE = 2;

type Fields = keyof IntegrationConfig & string;

/** How the collect command refuses a combination of its options (`--no-cache` without `--step`). */
const USAGE_ERROR = /^Invalid option: /;
/** How the SDK's step graph refuses a `--step` that names no step. */
const UNKNOWN_STEP = /^Node does not exist: (.*)$/s;
/** The levels the SDK's logger (bunyan) takes from LOG_LEVEL, in any case. */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

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
 * Each boolean setting given, by variable name, as what the SDK's loader
 * accepts: exactly `true` or `false`, as the collector's own rules read it
 * (`parsed`, from `parseConfig`): blank and `""` are `false`, `"TRUE"` is `true`.
 */
export function normalizedFlags(
  config: Partial<IntegrationConfig>,
  parsed: Pick<AbmConfig, 'checkReleasedDevices'>,
): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const [field, spec] of Object.entries(instanceConfigFields) as Array<
    [Fields, { type: string }]
  >) {
    if (spec.type !== 'boolean' || config[field] === undefined) continue;
    flags[FIELD_ENV[field]] = String(parsed[field as keyof typeof parsed] === true);
  }
  return flags;
}

/**
 * The settings as the CLI will see them: the environment, then .env (dotenv,
 * then its ${VAR} expansion; neither overrides a variable that is set). The
 * environment is put back as it was, so that the CLI expands .env exactly as
 * often as it does when run bare.
 */
async function readSettings(): Promise<{
  config: Partial<IntegrationConfig>;
  logLevel: string | undefined;
}> {
  const before = { ...process.env };
  try {
    const { loadConfigFromEnvironmentVariables } =
      await import('@jupiterone/integration-sdk-runtime');
    // With no fields it only loads .env.
    loadConfigFromEnvironmentVariables({});
    return { config: configFromEnvironment(process.env), logLevel: process.env.LOG_LEVEL };
  } finally {
    for (const name of Object.keys(process.env)) {
      if (!(name in before)) delete process.env[name];
    }
    Object.assign(process.env, before);
  }
}

/** Where settings come from, and what to do when there are none at all. */
async function describeSettingsSource(): Promise<string> {
  const envFile = path.resolve('.env');
  const present = await fs.stat(envFile).then(
    () => true,
    () => false,
  );
  if (present) return `Settings come from the environment, then from ${envFile}.`;
  const required = Object.entries(instanceConfigFields)
    .filter(([, spec]) => !spec.optional)
    .map(([field]) => FIELD_ENV[field as Fields]);
  return required.some((name) => process.env[name] !== undefined)
    ? `Settings come from the environment (there is no ${envFile}).`
    : `No settings found: there is no ${envFile}. Copy .env.example there and fill it in, or set ${required.join(', ')} in the environment.`;
}

/**
 * Why a setting the user wrote in .env may not have reached the collector: the SDK reads .env
 * with dotenv, which skips what it cannot parse without a word, and never overrides a variable
 * that is set, even to nothing. Empty when nothing looks wrong.
 */
export function envFileHints(text: Buffer, env: NodeJS.ProcessEnv): string[] {
  if (/^(\xFF\xFE|\xFE\xFF)/.test(text.toString('latin1')) || text.includes(0)) {
    return [
      '.env is not UTF-8 (it looks like UTF-16, which PowerShell writes with >): save it as UTF-8, for example with Out-File -Encoding utf8',
    ];
  }
  const hints: string[] = [];
  const names = new Set(Object.values(FIELD_ENV));
  for (const line of text.toString('utf8').split(/\r?\n/)) {
    const match = /^\s*(export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match || !names.has(match[2])) continue;
    const [, exported, name, value] = match;
    if (exported) {
      hints.push(`.env's ${name} line starts with "export", so it is not read: remove "export "`);
    } else if (env[name] === '' && value.trim() !== '' && !/^(["'])\1$/.test(value.trim())) {
      hints.push(
        `${name} is set but empty in the environment, which hides .env's value: unset it (unset ${name})`,
      );
    }
  }
  return hints;
}

/** `envFileHints` for .env in the working directory, as one sentence; empty without .env. */
async function envFileAdvice(): Promise<string> {
  const text = await fs.readFile(path.resolve('.env')).catch(() => undefined);
  const hints = text ? envFileHints(text, process.env) : [];
  return hints.length > 0 ? `\n${hints.join('.\n')}.` : '';
}

/** Where the CLI writes: <project path>/.j1-integration, which it names in this variable. */
function storageDirectory(): string {
  return process.env.JUPITERONE_INTEGRATION_STORAGE_DIRECTORY ?? path.resolve('.j1-integration');
}

/** Whether any step of this run wrote to the output directory (the CLI empties it first). */
async function stepsWrote(): Promise<boolean> {
  const names = await fs.readdir(path.join(storageDirectory(), 'graph')).catch(() => []);
  return names.length > 0;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs one collection; returns the exit status. Everything it prints for
 * the user goes to stderr, after the CLI's own output.
 */
export async function start(args: string[]): Promise<number> {
  // The SDK loads the AWS SDK v2, whose end-of-support notice says nothing
  // about this run. Set before the SDK's modules load, below.
  process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE ??= '1';

  const wantsHelp = args.some((arg) => arg === '-h' || arg === '--help');
  if (!wantsHelp) {
    const { config, logLevel } = await readSettings();
    if (logLevel && !LOG_LEVELS.includes(logLevel.toLowerCase())) {
      console.error(
        `\nThe collection did not run: LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel.slice(0, 40)}".`,
      );
      return EXIT_NOT_RUN;
    }
    let parsed: AbmConfig;
    try {
      parsed = parseConfig(config);
    } catch (err) {
      if (!(err instanceof IntegrationError)) throw err;
      console.error(
        `\nThe collection did not run: ${err.message}\n${await describeSettingsSource()}${await envFileAdvice()}`,
      );
      return EXIT_NOT_RUN;
    }
    // Set in the environment, these win over .env's.
    Object.assign(process.env, normalizedFlags(config, parsed));
  }

  const project = projectDirectory(args);
  let release = (): void => {};
  if (!wantsHelp) {
    let lock: LockResult;
    try {
      lock = lockProject(project);
    } catch (err) {
      console.error(
        `\nThe collection did not run: cannot take ${path.join(project, LOCK_FILE)}: ${messageOf(err)}`,
      );
      return EXIT_NOT_RUN;
    }
    if ('heldBy' in lock) {
      const { pid, since } = lock.heldBy;
      console.error(
        `\nThe collection did not run: another collection is running in ${project} (${pid ? `pid ${pid}, ` : ''}since ${since}). Two runs in one directory overwrite each other's output: wait for that one to end, or run this one in another directory. ${lock.file} marks it and goes when it ends; if no collection is running there, delete it.`,
      );
      return EXIT_NOT_RUN;
    }
    release = lock.release;
  }
  // Stopped by a scheduler's timeout or Ctrl-C: this run did not finish, and the exit status must
  // not let a script upload what it left (found by a review: 143, then uploaded). The listeners
  // stay on, so that a second signal (Ctrl-C reaches npm and this process alike) finds `stop`
  // already under way rather than the default action.
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    release();
    console.error(
      `\nThe collection stopped: ${why}. Do not upload what ${path.join(project, '.j1-integration')} holds: this run did not finish.`,
    );
    process.exit(EXIT_NOT_RUN);
  };
  const onSignal = (signal: NodeJS.Signals): void => stop(`interrupted by ${signal}`);
  if (!wantsHelp) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const unwatch = wantsHelp
    ? () => {}
    : whenNpmParentGoes('start', () => stop('npm, which started it, was stopped'));
  try {
    return await collect(args, wantsHelp);
  } finally {
    unwatch();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    release();
  }
}

/** The CLI's collect command, and what its outcome means for the exit status. */
async function collect(args: string[], wantsHelp: boolean): Promise<number> {
  const { createCli } = await import('@jupiterone/integration-sdk-cli');
  try {
    await createCli().parseAsync(['node', 'j1-integration', 'collect', ...args]);
  } catch (err) {
    const unknownStep = UNKNOWN_STEP.exec(messageOf(err));
    if (unknownStep) {
      const { invocationConfig } = await import('../../src');
      const steps = invocationConfig.integrationSteps.map((step) => step.id).join(', ');
      console.error(
        `\nThe collection did not run: --step names no step: "${unknownStep[1].slice(0, 80)}". The steps are ${steps}.`,
      );
    } else if (err instanceof IntegrationError && (await stepsWrote())) {
      // An authentication error is fatal in the SDK even in a step: the run ends without
      // summary.json, so nothing it wrote is reported complete, and none of it is to be uploaded.
      console.error(
        `\nThe collection stopped: ${messageOf(err)}\n${storageDirectory()} holds what the steps wrote before it, without summary.json: nothing of it is reported complete; do not upload it.`,
      );
    } else if (err instanceof IntegrationError || USAGE_ERROR.test(messageOf(err))) {
      console.error(`\nThe collection did not run: ${messageOf(err)}`);
    } else {
      console.error('\nThe collection stopped on an error the collector does not expect:', err);
    }
    return EXIT_NOT_RUN;
  }
  if (wantsHelp) return EXIT_COMPLETE;

  const storage = storageDirectory();
  const problems = summaryProblems(await readSummary(storage));
  if (problems.length > 0) {
    console.error(
      `\nThe collection is incomplete: ${problems.join('; ')}. ` +
        `${storage} holds what was collected; the log above gives each failed step's error (at WARN or ERROR: LOG_LEVEL=error hides the WARN ones).`,
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
