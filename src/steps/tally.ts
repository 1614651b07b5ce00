import { IntegrationLogger, PublishEventLevel } from '@jupiterone/integration-sdk-core';

const MAX_EXAMPLES = 5;

/** What happened to the records, and the name of the job event that says so. */
const EVENT_NAMES = {
  'left out': 'skipped_records',
  'kept without some attributes': 'partial_records',
  'kept, release unknown': 'partial_records',
  /** Kept, but what Apple answered about them disagrees with itself. */
  'linked to more than one MDM server': 'inconsistent_records',
} as const;

/**
 * Counts records a step left out, by reason, so the run ends with one clear
 * warning per reason (in the log and in the job's event list) instead of one
 * line per record or, worse, silence.
 */
export class SkipTally {
  private readonly reasons = new Map<string, { count: number; examples: string[] }>();

  add(reason: string, example?: string): void {
    let entry = this.reasons.get(reason);
    if (!entry) {
      entry = { count: 0, examples: [] };
      this.reasons.set(reason, entry);
    }
    entry.count += 1;
    if (example !== undefined && entry.examples.length < MAX_EXAMPLES) {
      entry.examples.push(example.length > 64 ? `${example.slice(0, 64)}...` : example);
    }
  }

  get total(): number {
    let total = 0;
    for (const { count } of this.reasons.values()) total += count;
    return total;
  }

  countOf(reason: string): number {
    return this.reasons.get(reason)?.count ?? 0;
  }

  /**
   * Logs and publishes one warning per reason; `what` names the records, e.g.
   * "devices", and `outcome` what happened to them.
   */
  report(
    logger: IntegrationLogger,
    what: string,
    outcome: keyof typeof EVENT_NAMES = 'left out',
  ): void {
    for (const [reason, { count, examples }] of this.reasons) {
      const sample = examples.length > 0 ? ` (for example: ${examples.join(', ')})` : '';
      // `what` is a plural ending in s ("devices", "repeated device records").
      const noun = count === 1 ? what.replace(/s$/, '') : what;
      const description = `${count} ${noun} ${outcome}: ${reason}${sample}.`;
      logger.warn({ reason, count, examples }, description);
      // A warning in the job's event list too: without a level the runtime files it as info.
      logger.publishEvent({
        name: EVENT_NAMES[outcome],
        description,
        level: PublishEventLevel.Warn,
      });
    }
  }
}

/** The warning for records kept without attributes Apple added that do not fit their class. */
export function droppedReason(names: string[]): string {
  return `attributes Apple added that do not fit the entity's schema were left off (${names.join(', ')})`;
}
