import { RequestInit, Response } from 'node-fetch';

import { FetchLike } from '../../src/abm/http';

export interface FakeAnswer {
  status?: number;
  body?: unknown;
  /** Raw body text; wins over `body`. */
  text?: string;
  headers?: Record<string, string>;
}

export type FakeHandler = (
  url: URL,
  init: RequestInit,
  call: number,
) => FakeAnswer | Promise<FakeAnswer>;

export interface FakeFetch extends FetchLike {
  calls: Array<{ url: URL; init: RequestInit }>;
  maxInFlight: number;
}

/** A fetch that answers from `handler`; throw from the handler to simulate a network error. */
export function fakeFetch(handler: FakeHandler): FakeFetch {
  let inFlight = 0;
  const fetch = (async (url: string, init: RequestInit) => {
    const parsed = new URL(url);
    fetch.calls.push({ url: parsed, init });
    inFlight += 1;
    fetch.maxInFlight = Math.max(fetch.maxInFlight, inFlight);
    try {
      const answer = await handler(parsed, init, fetch.calls.length);
      const text = answer.text ?? (answer.body === undefined ? '' : JSON.stringify(answer.body));
      return new Response(text, {
        status: answer.status ?? 200,
        headers: { 'content-type': 'application/json', ...answer.headers },
      });
    } finally {
      inFlight -= 1;
    }
  }) as FakeFetch;
  fetch.calls = [];
  fetch.maxInFlight = 0;
  return fetch;
}

/** A clock whose sleep returns at once and moves time forward by what it was asked to wait. */
export function virtualClock(start = 1_700_000_000_000): {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  waits: number[];
} {
  let time = start;
  const waits: number[] = [];
  return {
    waits,
    now: () => time,
    sleep: async (ms: number) => {
      waits.push(ms);
      time += ms;
    },
  };
}
