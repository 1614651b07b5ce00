import { IntegrationValidationError } from '@jupiterone/integration-sdk-core';

import { withPresentableErrors } from './errors';

describe('withPresentableErrors', () => {
  it('reduces the stack of a deliberate error to its message', async () => {
    const handler = withPresentableErrors(async () => {
      throw new IntegrationValidationError('clientId (CLIENT_ID) is missing');
    });
    const error = await handler().catch((e) => e);
    expect(error.stack).toBe('IntegrationValidationError: clientId (CLIENT_ID) is missing');
  });

  it('keeps the stack of an unexpected error', async () => {
    const handler = withPresentableErrors(() => {
      throw new TypeError('x is undefined');
    });
    const error = await handler().catch((e) => e);
    expect(error.stack).toContain('errors.test.ts');
  });
});
