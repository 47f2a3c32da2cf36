/**
 * Error reasons across the worker boundary, without a process: every typed engine error the worker may throw
 * survives toResponseError (worker side) → fromResponseError (client side) as the same class, reason and
 * message, and everything else becomes a WorkerError with the protocol's reason. The real-process version is in
 * process.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseError } from 'vscode-jsonrpc';
import { WorkerError, fromResponseError, workerReason } from '../../../src/engine/client.js';
import { ReasonError, isCancellation } from '../../../src/engine/errors.js';
import { CheckpointError } from '../../../src/engine/model/checkpoint.js';
import { ConfigError } from '../../../src/engine/model/config.js';
import { CompileError, ForwardError } from '../../../src/engine/model/errors.js';
import { SteerSpecError } from '../../../src/engine/steering/steer.js';
import { TokenizerError } from '../../../src/engine/tokenizer/errors.js';
import { SafetensorsError } from '../../../src/engine/weights/safetensors.js';
import { WIRE_ERRORS, WorkerFault, badRequest, cancelled, toResponseError } from '../../../src/engine/worker/errors.js';

/** What the JSON-RPC layer does to an error between the processes: only code, message and data travel, as JSON. */
const overTheWire = (e: unknown) => {
  const re = toResponseError(e);
  const json = JSON.parse(JSON.stringify(re.toJson())) as { code: number; message: string; data?: unknown };
  return fromResponseError(new ResponseError(json.code, json.message, json.data));
};

const typed: ReasonError[] = [
  new CheckpointError('not-found', 'model folder /m does not exist'),
  new CompileError('unsupported-architecture', 'FooForCausalLM is not supported'),
  new ConfigError('missing-key', 'config.json lacks hidden_size'),
  new SafetensorsError('truncated', 'model.safetensors is truncated'),
  new TokenizerError('no-chat-template', 'this model has no chat template'),
  new SteerSpecError('layer-out-of-range', 'steering layer 9 is out of range'),
  new ForwardError('past is a KV cache from a different model'),
];

test('every typed engine error crosses the boundary as itself: class, name, reason, message', () => {
  assert.deepEqual(typed.map((e) => e.name).sort(), Object.keys(WIRE_ERRORS).sort(), 'WIRE_ERRORS lists exactly the classes this test covers');
  for (const e of typed) {
    const back = overTheWire(e);
    assert.equal(Object.getPrototypeOf(back), Object.getPrototypeOf(e), `${e.name} is rebuilt as ${e.name}`);
    assert.equal(back.name, e.name);
    assert.equal((back as ReasonError).reason, e.reason);
    assert.equal(back.message, e.message);
    assert.ok(!(back instanceof WorkerError));
  }
  assert.equal(workerReason(overTheWire(typed[0])), 'load-failed');
  assert.equal(workerReason(overTheWire(typed[5])), 'bad-request', 'a steering spec the model cannot take is the client\'s fault (the server answers 400)');
  assert.equal(workerReason(overTheWire(typed[6])), 'internal', 'forward inputs are built by the worker: a ForwardError is a bug');
});

test('protocol failures arrive as WorkerError with their reason; anything else is internal', () => {
  const bad = overTheWire(badRequest('sampling.topP = 0 is invalid'));
  assert.ok(WorkerError.is(bad, 'bad-request') && /topP/.test(bad.message));
  const c = overTheWire(cancelled());
  assert.ok(WorkerError.is(c, 'cancelled') && isCancellation(c));
  assert.ok(WorkerError.is(overTheWire(new WorkerFault('model-not-loaded', 'model x is not loaded')), 'model-not-loaded'));
  const oom = overTheWire(new RangeError('Array buffer allocation failed'));
  assert.ok(WorkerError.is(oom, 'oom') && /smaller batch size/.test(oom.message));
  assert.ok(WorkerError.is(overTheWire(new TypeError('x is undefined')), 'internal'));
  // A name the client does not know (an older or newer worker) is not trusted as a class: a WorkerError.
  const re = toResponseError(new CheckpointError('not-found', 'gone'));
  re.data!.name = 'SomethingElseError';
  assert.ok(WorkerError.is(fromResponseError(re), 'load-failed'));
});
