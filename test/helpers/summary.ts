import { promises as fs } from 'fs';
import path from 'path';

/** The part of `.j1-integration/summary.json` that says whether a collection is complete. */
export interface CollectionSummary {
  integrationStepResults: Array<{ id: string; status: string }>;
  metadata: { partialDatasets: { types: string[] } };
}

/** The summary.json a collection wrote into its storage directory, if it wrote one. */
export async function readSummary(storage: string): Promise<CollectionSummary | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(storage, 'summary.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Step statuses that leave nothing missing: the step ran and succeeded, or a
 * run of chosen steps (`--step`) did not run it (`disabled`) or read its
 * output from the cache of an earlier run (`cached`).
 */
const COMPLETE_STATUSES = new Set(['success', 'cached', 'disabled']);

/**
 * Why a collection cannot be called complete, from its summary.json; empty
 * when every step it ran succeeded. `j1-integration collect` exits 0 even when
 * a step fails, so this is the only place a failed step shows.
 */
export function summaryProblems(summary: CollectionSummary | undefined): string[] {
  if (!summary) return ['the collection wrote no summary.json'];
  const problems: string[] = [];
  for (const step of summary.integrationStepResults ?? []) {
    if (!COMPLETE_STATUSES.has(step.status)) {
      problems.push(`step ${step.id} ended with "${step.status}"`);
    }
  }
  const partial = summary.metadata?.partialDatasets?.types ?? [];
  if (partial.length > 0) problems.push(`partial datasets: ${partial.join(', ')}`);
  return problems;
}
