/**
 * Worker process plumbing through a real child process: start from source and from an esbuild bundle,
 * typed errors that cross the boundary with their class and reason and do not kill the worker, and worker
 * death → WorkerError('died') → a new client works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { InferenceClient, WorkerError, resolveWorkerPath, workerReason } from '../../../src/engine/client.js';
import { CheckpointError } from '../../../src/engine/model/checkpoint.js';
import { SteerSpecError } from '../../../src/engine/steering/steer.js';
import { SafetensorsError } from '../../../src/engine/weights/safetensors.js';
import { SKIP_PARITY, fixture, logSink, repoRoot, workerSource } from './helpers.js';

test('worker path resolution falls back to the source entry when no bundle sits next to the client', () => {
  const saved = process.env.PERSONA_LAB_WORKER;
  delete process.env.PERSONA_LAB_WORKER;
  try {
    assert.equal(resolveWorkerPath(), workerSource);
    assert.equal(resolveWorkerPath('/x/worker.js'), '/x/worker.js');
  } finally {
    if (saved !== undefined) process.env.PERSONA_LAB_WORKER = saved;
  }
});

test('typed errors cross the worker boundary with their class and reason and leave the worker alive', async (t) => {
  const lines: string[] = [];
  const client = await InferenceClient.start({ log: logSink(lines) });
  t.after(() => client.dispose());
  assert.ok(client.pid > 0);
  assert.deepEqual(await client.listModels(), []);
  await assert.rejects(client.tokenize({ modelId: 'nope', prompt: { text: 'x' } }), (e) => WorkerError.is(e, 'model-not-loaded') && /not loaded/.test((e as Error).message));
  // A missing checkpoint: the worker's CheckpointError is rebuilt on this side, reason and all.
  const missing = path.join(os.tmpdir(), 'no-such-model-dir');
  await assert.rejects(client.loadModel({ path: missing, executionProvider: 'auto' }), (e) => CheckpointError.is(e, 'not-found')
    && !(e instanceof WorkerError) && workerReason(e) === 'load-failed' && (e as Error).message.startsWith(`could not load ${missing}: `));
  await assert.rejects(client.generate({ modelId: 'nope', rows: [], sampling: {} }), (e) => WorkerError.is(e, 'model-not-loaded'));
  if (!SKIP_PARITY) {
    // A checkpoint whose weights file is truncated: the SafetensorsError, named once (not once per provider).
    const bad = mkdtempSync(path.join(os.tmpdir(), 'pl-badmodel-'));
    t.after(() => rmSync(bad, { recursive: true, force: true }));
    const good = fixture('llama_gqa').dir;
    copyFileSync(path.join(good, 'config.json'), path.join(bad, 'config.json'));
    writeFileSync(path.join(bad, 'model.safetensors'), readFileSync(path.join(good, 'model.safetensors')).subarray(0, 5000));
    await assert.rejects(client.loadModel({ path: bad, executionProvider: 'auto' }), (e) => SafetensorsError.is(e, 'truncated')
      && /truncated/.test((e as Error).message) && !/cuda:|cpu:/.test((e as Error).message));
    // A steering spec the model cannot take: a SteerSpecError that counts as a bad request (the server's 400).
    const m = await client.loadModel({ path: good, executionProvider: 'cpu' });
    await assert.rejects(client.generate({ modelId: m.modelId, rows: [{ prompt: { ids: [1] }, steer: [{ vector: { values: [1, 2] }, layer: 1, coef: 1 }] }], sampling: {} }),
      (e) => SteerSpecError.is(e, 'vector-shape') && workerReason(e) === 'bad-request');
    await assert.rejects(client.generate({ modelId: m.modelId, rows: [{ prompt: { ids: [1] }, steer: [{ vector: { file: path.join(bad, 'nope.safetensors') }, layer: 1, coef: 1 }] }], sampling: {} }),
      (e) => SteerSpecError.is(e, 'vector-file') && /does not exist/.test((e as Error).message));
    await client.unloadModel(m.modelId);
  }
  assert.deepEqual(await client.listModels(), [], 'the worker survived the failures');
  assert.ok(lines.some((l) => l.startsWith('info') && l.includes('ready')), 'worker stderr reaches the log callback');
  assert.ok(lines.some((l) => l.startsWith('warn') && l.includes('request failed')), 'failures are logged at warn level');
});

test('killing the worker rejects in-flight requests with died; a new client works', async () => {
  const client = await InferenceClient.start();
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => client.onExit(r));
  // A request that is in flight when the process dies (the loader is slow enough to still be running).
  const inflight = client.loadModel({ path: repoRoot, executionProvider: 'cpu' });
  process.kill(client.pid, 'SIGKILL');
  await assert.rejects(inflight, (e) => WorkerError.is(e, 'died') && /exited on signal SIGKILL/.test((e as Error).message));
  assert.equal((await exited).signal, 'SIGKILL');
  await assert.rejects(client.listModels(), (e) => WorkerError.is(e, 'died'));
  await client.dispose(); // no-op on a dead worker
  const again = await InferenceClient.start();
  assert.deepEqual(await again.listModels(), []);
  await again.dispose();
});

test('the esbuild bundle of the worker starts and answers (dist/worker.js layout)', async (t) => {
  // Inside the repo (like dist/), so the external onnxruntime-node resolves from node_modules.
  mkdirSync(path.join(repoRoot, '.cache'), { recursive: true });
  const dir = mkdtempSync(path.join(repoRoot, '.cache', 'test-worker-bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outfile = path.join(dir, 'worker.js');
  await esbuild.build({
    entryPoints: [workerSource], outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'silent',
    external: ['onnxruntime-node'], absWorkingDir: repoRoot,
    banner: { js: "import { createRequire as __plCreateRequire } from 'node:module'; const require = __plCreateRequire(import.meta.url);" },
  });
  const client = await InferenceClient.start({ workerPath: outfile });
  t.after(() => client.dispose());
  assert.deepEqual(await client.listModels(), []);
  if (!SKIP_PARITY) {
    // onnxruntime-node (external to the bundle) resolves and a model runs from the bundled worker.
    const f = fixture('llama_gqa');
    const info = await client.loadModel({ path: f.dir, executionProvider: 'cpu' });
    const res = await client.generate({ modelId: info.modelId, rows: [{ prompt: { ids: f.ids('single_input_ids') } }], sampling: { maxNewTokens: 5 } });
    assert.deepEqual(res.rows[0].tokenIds, f.ids('greedy_new_tokens'));
  }
  const exit = new Promise<{ code: number | null }>((r) => client.onExit(r));
  await client.dispose();
  assert.equal((await exit).code, 0, 'graceful shutdown exits with code 0');
});
