/** How the editor reports a failed action (src/extension/failures.ts): cancellations are information; failures carry the fixing action. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFailure } from '../../src/extension/failures.js';
import { PipelineError } from '../../src/core/errors.js';
import { ToyModelNotFoundError } from '../../src/core/toy/paths.js';
import { WorkerError } from '../../src/engine/client.js';
import { CancelledError } from '../../src/engine/errors.js';
import { CheckpointError } from '../../src/engine/model/checkpoint.js';
import { WorkerErrorCodes } from '../../src/engine/protocol.js';

const labels = (f: ReturnType<typeof describeFailure>) => (f.kind === 'failed' ? f.actions.map((a) => a.label + ('settingsQuery' in a ? `:${a.settingsQuery}` : '')) : f.kind);

test('a cancellation is reported as one, whichever step it interrupted', () => {
  assert.deepEqual(describeFailure(new CancelledError('Persona Lab: extracting evil on toy-persona@main: cancelled'), 'x'),
    { kind: 'cancelled', message: 'Persona Lab: extracting evil on toy-persona@main: cancelled' });
  assert.deepEqual(describeFailure(new WorkerError(WorkerErrorCodes.Cancelled, 'request cancelled by the client'), 'Steering Playground'),
    { kind: 'cancelled', message: 'Steering Playground was cancelled' });
  assert.equal(describeFailure(new DOMException('aborted', 'AbortError'), 'x').kind, 'cancelled');
  // The action's own signal fired: the rubric judge's plain "cancelled" error is still a cancellation.
  assert.equal(describeFailure(new Error('rubric judging cancelled'), 'x', true).kind, 'cancelled');
  assert.equal(describeFailure(new Error('rubric judging cancelled'), 'x').kind, 'failed');
});

test('failures offer the action that fixes them, found through wrapping errors', () => {
  assert.deepEqual(labels(describeFailure(new PipelineError('judge-not-configured', 'set personaLab.judge.baseUrl'), 'x')), ['Open Settings:personaLab.judge', 'Show Log']);
  assert.deepEqual(labels(describeFailure(new PipelineError('judge-auth', '401'), 'x')), ['Open Settings:personaLab.judge', 'Show Log']);
  assert.deepEqual(labels(describeFailure(new PipelineError('judge-rate-limited', '429'), 'x')), ['Show Log'], 'retrying later, not a setting, fixes a rate limit');
  const wrapped = new Error('could not load /m: model folder /m does not exist', { cause: new CheckpointError('not-found', 'model folder /m does not exist') });
  const f = describeFailure(wrapped, 'x');
  assert.deepEqual(labels(f), ['Open Settings:personaLab.modelPaths', 'Show Log']);
  assert.equal(f.kind === 'failed' && f.message, wrapped.message, 'the message shown is the outermost one');
  assert.deepEqual(labels(describeFailure(new ToyModelNotFoundError(['/a']), 'x')), ['Open Settings:personaLab.modelPaths', 'Show Log']);
  assert.deepEqual(labels(describeFailure(new WorkerError(WorkerErrorCodes.LoadFailed, 'cuda: libcudart missing'), 'x')), ['Open Settings:personaLab.executionProvider', 'Show Log']);
  assert.deepEqual(labels(describeFailure(new Error('boom'), 'x')), ['Show Log']);
});
