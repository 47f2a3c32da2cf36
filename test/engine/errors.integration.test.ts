// Clear errors (no crash) for bad checkpoints: each names what is wrong and what to do.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { CheckpointError } from '../../src/engine/model/checkpoint.js';
import { ConfigError } from '../../src/engine/model/config.js';
import { CompileError } from '../../src/engine/model/errors.js';
import { loadModel } from '../../src/engine/model/session.js';
import { SafetensorsError, writeSafetensors } from '../../src/engine/weights/safetensors.js';
import { CASES } from './helpers/cases.js';
import { randomWeights, writeCheckpoint } from './helpers/random-checkpoint.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-errors-'));
const cacheDir = path.join(tmp, 'cache');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const raw = CASES['olmo2 GQA'];
let n = 0;
const good = () => writeCheckpoint(path.join(tmp, `ck${n++}`), raw, randomWeights(raw, 1));
const load = (dir: string) => loadModel({ kind: 'folder', path: dir }, { cacheDir });

describe('compiler errors', () => {
  test('unsupported architecture names it and the supported list', async () => {
    const dir = good();
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...raw, architectures: ['MambaForCausalLM'], model_type: 'mamba' }));
    await assert.rejects(load(dir), (e) => CompileError.is(e, 'unsupported-architecture')
      && /MambaForCausalLM/.test(e.message) && /LlamaForCausalLM/.test(e.message) && /GPT2LMHeadModel/.test(e.message));
  });

  test('missing safetensors', async () => {
    const dir = good();
    fs.rmSync(path.join(dir, 'model.safetensors'));
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
    await assert.rejects(load(dir), (e) => e instanceof CheckpointError && e.reason === 'no-weights' && /pytorch_model\.bin/.test(e.message));
  });

  test('missing shard named by the index', async () => {
    const dir = writeCheckpoint(path.join(tmp, 'shards'), raw, randomWeights(raw, 1), { shards: 2 });
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    await assert.rejects(load(dir), (e) => e instanceof CheckpointError && /model-00002-of-00002/.test(e.message));
  });

  test('truncated safetensors (data cut short, and header cut short)', async () => {
    const dir = good();
    const file = path.join(dir, 'model.safetensors');
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 100);
    await assert.rejects(load(dir), (e) => SafetensorsError.is(e, 'truncated') && /truncated/.test(e.message) && /Re-download/.test(e.message));
    fs.truncateSync(file, 20);
    await assert.rejects(load(dir), (e) => SafetensorsError.is(e, 'truncated'));
    fs.truncateSync(file, 3);
    await assert.rejects(load(dir), (e) => SafetensorsError.is(e, 'truncated'));
  });

  test('corrupt header', async () => {
    const dir = good();
    const file = path.join(dir, 'model.safetensors');
    const b = fs.readFileSync(file);
    b.write('}}}}', 8);
    fs.writeFileSync(file, b);
    await assert.rejects(load(dir), (e) => SafetensorsError.is(e, 'corrupt') && /not valid JSON/.test(e.message));
  });

  test('shape mismatch between config and weights', async () => {
    const dir = good();
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...raw, intermediate_size: 64 }));
    await assert.rejects(load(dir), (e) => CompileError.is(e, 'shape-mismatch') && /\[48, 32\]/.test(e.message) && /\[64, 32\]/.test(e.message));
  });

  test('tensor missing for the config (wrong layer count)', async () => {
    const dir = good();
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...raw, num_hidden_layers: 3 }));
    await assert.rejects(load(dir), (e) => CompileError.is(e, 'missing-weight') && /model\.layers\.2\./.test(e.message));
  });

  test('unknown dtype in the file, and a dtype the compiler cannot use', async () => {
    const dir = good();
    const file = path.join(dir, 'model.safetensors');
    const b = fs.readFileSync(file);
    const hlen = Number(b.readBigUInt64LE(0));
    const header = b.subarray(8, 8 + hlen).toString().replace('"dtype":"F32"', '"dtype":"F4"');
    b.write(header, 8);
    fs.writeFileSync(file, b);
    await assert.rejects(load(dir), (e) => SafetensorsError.is(e, 'unknown-dtype') && /"F4"/.test(e.message) && /BF16/.test(e.message));

    const dir2 = good();
    const w = randomWeights(raw, 1);
    const t: Record<string, any> = {};
    for (const [name, v] of w) t[name] = name === 'model.norm.weight' ? { dtype: 'I32', shape: v.shape, data: new Int32Array(v.shape[0]) } : { dtype: 'F32', shape: v.shape, data: v.data };
    writeSafetensors(path.join(dir2, 'model.safetensors'), t);
    await assert.rejects(load(dir2), (e) => CompileError.is(e, 'unsupported-dtype') && /model\.norm\.weight/.test(e.message) && /I32/.test(e.message));
  });

  test('unsupported rope type and bad config', async () => {
    const dir = good();
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...raw, rope_scaling: { rope_type: 'mrope', factor: 2 } }));
    await assert.rejects(load(dir), (e) => e instanceof ConfigError && /mrope/.test(e.message) && /yarn/.test(e.message));
    fs.writeFileSync(path.join(dir, 'config.json'), '{ not json');
    await assert.rejects(load(dir), (e) => e instanceof CheckpointError && e.reason === 'bad-config');
    await assert.rejects(load(path.join(tmp, 'does-not-exist')), (e) => e instanceof CheckpointError && e.reason === 'not-found');
  });

  test('an execution provider that cannot start fails naming it (no silent fallback to CPU)', async () => {
    let model;
    try {
      model = await loadModel({ kind: 'folder', path: good() }, { cacheDir, executionProvider: 'cuda' });
    } catch (e) {
      assert.match((e as Error).message, /on the cuda execution provider/);
      return;
    }
    // A machine with the CUDA provider libraries: then it must really run there.
    assert.equal(model.executionProvider, 'cuda');
    await model.dispose();
  });

  test('nonexistent revision in an HF cache repo lists the known refs', async () => {
    const repo = path.join(tmp, 'models--org--tiny');
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'snapshots', 'a'.repeat(40)), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', 'main'), 'a'.repeat(40));
    await assert.rejects(loadModel({ kind: 'hf-cache', repoDir: repo, revision: 'stage9-step1' }, { cacheDir }),
      (e) => e instanceof CheckpointError && e.reason === 'bad-revision' && /stage9-step1/.test(e.message) && /main/.test(e.message));
  });
});
