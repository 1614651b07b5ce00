import { IntegrationError } from '@jupiterone/integration-sdk-core';

/**
 * Errors this integration raises on purpose (a bad field, a refused key, an
 * API that failed past its retries) carry a message that says what to do; a
 * stack trace under them only buries it. The SDK prints `err.stack`, so for
 * those errors the stack becomes the message alone. Unexpected errors (bugs)
 * keep their stacks.
 */
export function presentable(err: unknown): unknown {
  if (err instanceof IntegrationError) {
    err.stack = `${err.constructor.name}: ${err.message}`;
  }
  return err;
}

/** Wraps an async handler so the errors it throws reach the runtime presentable. */
export function withPresentableErrors<TArgs extends unknown[]>(
  handler: (...args: TArgs) => void | Promise<void>,
): (...args: TArgs) => Promise<void> {
  return async (...args: TArgs) => {
    try {
      await handler(...args);
    } catch (err) {
      throw presentable(err);
    }
  };
}
