/**
 * Where a measured process spent its wall time, read from the log that
 * `j1-integration collect` writes: when execution started and ended, and how
 * long each step ran. Start-up (Node, ts-node, the CLI) is the rest of the
 * wall time. Both the collector and the SDK floor log the same lines, so
 * their steps can be compared one by one, without the start-up they share.
 */

/** Milliseconds, from the log's timestamps. */
export interface StepTimes {
  /** From "Starting execution" to "Integration data collection has completed". */
  executionMs: number;
  /** Each step's duration, by step id, from "Starting step" to "Completed step". */
  steps: Record<string, number>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const LINE = /^(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)Z\s+INFO\b.*?:\s+(.*)$/;
const STEP = /^(Starting|Completed) step ".*"(?:\.\.\.|\.) \(stepId=([^)\s,]+)/;

/**
 * The step times in a log, or undefined when it lacks the start or the end
 * of execution (a run that failed, or a log format this does not know).
 * Timestamps are the time of day (UTC), so a run over midnight is unwrapped.
 */
export function readStepTimes(log: string): StepTimes | undefined {
  let first: number | undefined;
  let started: number | undefined;
  let ended: number | undefined;
  const starts = new Map<string, number>();
  const steps: Record<string, number> = {};
  for (const raw of log.split('\n')) {
    const match = LINE.exec(raw.replace(ANSI, '').trim());
    if (!match) continue;
    const [, h, m, sec, message] = match;
    let at = (Number(h) * 60 + Number(m)) * 60_000 + Number(sec) * 1000;
    first ??= at;
    if (at < first) at += DAY_MS;
    if (message.startsWith('Starting execution')) started ??= at;
    else if (message.startsWith('Integration data collection has completed')) ended = at;
    else {
      const step = STEP.exec(message);
      if (!step) continue;
      const [, what, id] = step;
      if (what === 'Starting') starts.set(id, at);
      else if (starts.has(id)) steps[id] = Math.round(at - (starts.get(id) as number));
    }
  }
  if (started === undefined || ended === undefined) return undefined;
  return { executionMs: Math.round(ended - started), steps };
}
