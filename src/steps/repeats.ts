import { IntegrationProviderAPIError } from '@jupiterone/integration-sdk-core';

/** Records listed again that a walk tolerates, however few new ones it has brought. */
const SLACK = 1000;

/**
 * Ends a walk whose list keeps repeating itself. A server that answers every cursor with the same
 * records under a new cursor (or shifts its pages by a few records) passes the client's checks,
 * which see neither a cursor twice nor an empty page, and the walk would go on forever. Only the
 * step knows which records it has seen, so it counts them: once the records listed again
 * outnumber the new ones (beyond a slack for the odd duplicate), the walk stops with an error and
 * the step's datasets are partial.
 */
export class RepeatGuard {
  private fresh = 0;
  private repeated = 0;

  constructor(
    private readonly endpoint: string,
    private readonly what: string,
  ) {}

  /** Counts one page: its records seen for the first time, and those listed before. */
  page(fresh: number, repeated: number): void {
    this.fresh += fresh;
    this.repeated += repeated;
    if (this.repeated > Math.max(SLACK, this.fresh)) {
      throw new IntegrationProviderAPIError({
        endpoint: this.endpoint,
        status: 200,
        statusText: `the list repeats itself: ${this.repeated} ${this.what} listed again against ${this.fresh} new ones, each page with another cursor; stopping so the walk cannot go on forever. This is an Apple-side paging fault: try again later`,
      });
    }
  }
}
