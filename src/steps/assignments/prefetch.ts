import { AbmClient, Page } from '../../abm/client';
import { ResourceIdentifier } from '../../abm/types';

type IdPage = Page<ResourceIdentifier<'orgDevices'>>;

interface Walk {
  pages: AsyncGenerator<IdPage>;
  buffered: IdPage[];
  done: boolean;
  error?: unknown;
}

/**
 * Fetches the first pages of the MDM servers' device id lists while the
 * device walk still runs, so that the assignments step, which must wait for
 * every device, finds them ready instead of waiting on the network. One
 * server's list at a time, so it takes at most one request slot away from the
 * device walk, and at most `budgetPages` pages (about 40 kB each, of 1,000 ids), so a
 * large fleet costs no more memory than a small one; the rest of each list is
 * fetched when the assignments step gets to it. Nothing is fetched twice: the
 * step continues each walk where the prefetch stopped.
 */
export class ServerDeviceIdPrefetch {
  private readonly walks = new Map<string, Walk>();
  private stopped = false;
  private readonly filling: Promise<void>;

  constructor(
    private readonly client: AbmClient,
    serverIds: string[],
    private budgetPages: number,
  ) {
    this.filling = this.fill(serverIds);
  }

  private async fill(serverIds: string[]): Promise<void> {
    for (const id of serverIds) {
      const walk: Walk = {
        pages: this.client.iterateServerDeviceIds(id),
        buffered: [],
        done: false,
      };
      this.walks.set(id, walk);
      while (!this.stopped && this.budgetPages > 0 && !walk.done && walk.error === undefined) {
        try {
          const next = await walk.pages.next();
          if (next.done) walk.done = true;
          else {
            walk.buffered.push(next.value);
            this.budgetPages -= 1;
          }
        } catch (err) {
          walk.error = err;
        }
      }
      if (this.stopped || this.budgetPages <= 0) return;
    }
  }

  /** Stops fetching ahead; the walks handed out after this go on from where the prefetch was. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.filling;
  }

  /** One server's id pages: those fetched ahead, then the rest of its walk. Call after `stop`. */
  async *walk(serverId: string): AsyncGenerator<IdPage> {
    const walk = this.walks.get(serverId);
    if (!walk) {
      yield* this.client.iterateServerDeviceIds(serverId);
      return;
    }
    this.walks.delete(serverId);
    for (const page of walk.buffered.splice(0)) yield page;
    if (walk.error !== undefined) throw walk.error;
    if (!walk.done) yield* walk.pages;
  }
}
