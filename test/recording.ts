import { IntegrationInvocationConfig } from '@jupiterone/integration-sdk-core';
import { Recording, RecordingEntry, setupRecording } from '@jupiterone/integration-sdk-testing';

import { createInvocationConfig } from '../src';
import { IntegrationConfig } from '../src/config';
import { Sandbox, startSandbox } from './sandbox';

/** The fleet the recordings were captured from; the seed also fixes the credentials. */
export const RECORDING_FLEET = { seed: 20261122, devices: 1500, servers: 6 };

export const REDACTED = '[REDACTED]';

/**
 * Polly keeps the `authorization` header out of recordings by itself; the
 * client assertion (request body) and the access token (response body) of the
 * token call are ours to redact.
 */
export function redactTokenExchange(entry: RecordingEntry): void {
  if (!entry.request.url.includes('/auth/oauth2/token')) return;
  const postData = entry.request.postData;
  if (postData?.text) {
    const form = new URLSearchParams(postData.text);
    if (form.has('client_assertion')) form.set('client_assertion', REDACTED);
    postData.text = form.toString();
  }
  const params: Array<{ name: string; value?: string }> | undefined = postData?.params;
  if (postData && params) {
    postData.params = params.map((p) =>
      p.name === 'client_assertion' ? { ...p, value: REDACTED } : p,
    ) as typeof postData.params;
  }
  const content = entry.response.content;
  if (content?.text) {
    try {
      const body = JSON.parse(content.text);
      if (body.access_token) body.access_token = REDACTED;
      content.text = JSON.stringify(body);
    } catch {
      content.text = REDACTED;
    }
  }
}

export interface RecordedRun {
  sandbox: Sandbox;
  instanceConfig: IntegrationConfig;
  invocationConfig: IntegrationInvocationConfig;
  recording: Recording;
  mode: 'record' | 'replay';
  stop(): Promise<void>;
}

/**
 * Replays the HAR recording `name` (or, with RECORD=1, captures it from the
 * sandbox). The sandbox runs in both modes so the credentials are the ones
 * the recording was made with; in replay mode it must see no request at all.
 */
export async function startRecordedRun(name: string, directory: string): Promise<RecordedRun> {
  const mode = process.env.RECORD === '1' ? 'record' : 'replay';
  const sandbox = await startSandbox(RECORDING_FLEET);
  const account = sandbox.credentials;
  const recording = setupRecording({
    name,
    directory,
    mutateEntry: redactTokenExchange,
    options: {
      mode,
      recordIfMissing: false,
      recordFailedRequests: true,
      // The sandbox's port changes from run to run; everything else must match.
      matchRequestsBy: { headers: false, body: false, url: { port: false } },
    },
  });
  return {
    sandbox,
    mode,
    recording,
    instanceConfig: {
      clientId: account.clientId,
      keyId: account.keyId,
      privateKey: account.privateKey,
      apiBaseUrl: sandbox.apiBaseUrl,
      tokenUrl: sandbox.tokenUrl,
    },
    // The testing package is typed for the base config; ours is a subtype. Steps run one at a
    // time here, each against its own recording, so the MDM server step does not fetch the
    // assignments step's id pages ahead (the e2e tests and prefetch.test.ts cover that).
    invocationConfig: createInvocationConfig({
      prefetchIdPages: 0,
    }) as unknown as IntegrationInvocationConfig,
    async stop() {
      await recording.stop();
      await sandbox.stop();
    },
  };
}
