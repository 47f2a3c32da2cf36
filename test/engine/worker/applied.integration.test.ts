/**
 * "Was the vector applied?" through the real worker process on a parity fixture (llama_gqa: L = 3, H = 64):
 * every steered row reports, per layer, the norm actually added and on how many tokens (read back from the
 * steer tensors fed to the graph), and a spec that cannot add anything fails instead of silently running
 * unsteered.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../../../src/engine/client.js';
import { SteerSpecError } from '../../../src/engine/steering/steer.js';
import type { GenerateRow, SteeringApplied } from '../../../src/engine/protocol.js';
import { writeSafetensors } from '../../../src/engine/weights/safetensors.js';
import { SKIP_PARITY, fixture } from './helpers.js';

const H = 64, L = 3;
let client: InferenceClient;
let modelId = '';
let tmp = '';

before(async () => {
  if (SKIP_PARITY) return;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-applied-'));
  client = await InferenceClient.start({ threads: 1 });
  modelId = (await client.loadModel({ path: fixture('llama_gqa').dir, executionProvider: 'cpu' })).modelId;
});
after(async () => {
  await client?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const vec = (seed: number) => Array.from({ length: H }, (_, i) => Math.sin(seed * 7.1 + i * 0.37));
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));
const near = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= 1e-6 * want, `${what}: ${got} vs ${want}`);
const prompt = { ids: [1, 5, 9, 14, 3] };
const NEW = 6;
const gen = (rows: GenerateRow[]) => client.generate({ modelId, rows, sampling: { maxNewTokens: NEW, eosTokenIds: [] } });

test('applied norms: |coef|·‖v_ℓ‖ (raw), the target norm, unit; token counts follow the positions', { skip: SKIP_PARITY }, async () => {
  const v1 = vec(1), v2 = vec(2), v3 = vec(3);
  const res = await gen([
    { prompt, steer: [{ vector: { values: v1 }, layer: 1, coef: -2.5, positions: 'response' }] },
    { prompt, steer: [{ vector: { values: v2 }, layer: 2, coef: 1.5, positions: 'prompt', scaling: { mode: 'target-norm', norm: 7 } }] },
    { prompt, steer: [{ vector: { values: v3 }, layer: L, coef: 0.5, positions: 'all', scaling: { mode: 'unit' } }] },
    { prompt },
  ]);
  const a = res.rows.map((r) => r.steeringApplied);
  const T = prompt.ids.length;
  // 'response': the last prompt token, then every generated token that is forwarded (all but the last).
  assert.equal(a[0]!.length, 1);
  assert.equal(a[0]![0].layer, 1);
  near(a[0]![0].norm, 2.5 * norm(v1), 'raw');
  assert.equal(a[0]![0].tokens, 1 + NEW - 1);
  near(a[1]![0].norm, 1.5 * 7, 'target-norm');
  assert.equal(a[1]![0].tokens, T, "'prompt': every prompt token, nothing while decoding");
  near(a[2]![0].norm, 0.5, 'unit');
  assert.equal(a[2]![0].layer, L);
  assert.equal(a[2]![0].tokens, T + NEW - 1);
  assert.equal(a[3], undefined, 'unsteered rows report nothing');
});

test('applied norms: specs on one layer add up; a lone row (ghost slot) counts once', { skip: SKIP_PARITY }, async () => {
  const v = vec(4);
  const res = await gen([{ prompt, steer: [
    { vector: { values: v }, layer: 2, coef: 1, positions: 'all' },
    { vector: { values: v }, layer: 2, coef: 2, positions: 'response' },
    { vector: { values: v }, layer: 0, coef: 0 },
  ] }]);
  const a = res.rows[0].steeringApplied as SteeringApplied[];
  assert.deepEqual(a.map((x) => x.layer), [0, 2]);
  assert.deepEqual(a[0], { layer: 0, norm: 0, tokens: 0 }, 'coef 0 is allowed and reported as nothing added');
  near(a[1].norm, 3 * norm(v), 'largest per-token addition (all + response while decoding)');
  assert.equal(a[1].tokens, prompt.ids.length + NEW - 1);
});

test('a steering spec that adds nothing fails instead of running unsteered (zero vector row, underflow, cancelling specs)', { skip: SKIP_PARITY }, async () => {
  const bad = async (rows: GenerateRow[], re: RegExp) => {
    await assert.rejects(gen(rows), (e: unknown) => SteerSpecError.is(e, 'bad-spec') && re.test(e.message));
  };
  // A vector file whose row 2 is all zeros (e.g. a layer left empty at extraction).
  const data = new Float32Array((L + 1) * H).map((_, i) => (Math.floor(i / H) === 2 ? 0 : Math.cos(i)));
  const file = path.join(tmp, 'holey.safetensors');
  writeSafetensors(file, { response_avg_diff: { dtype: 'F32', shape: [L + 1, H], data } });
  await bad([{ prompt, steer: [{ vector: { file, tensor: 'response_avg_diff' }, layer: 2, coef: 4 }] }], /add nothing.*row 2 of .*holey.*all zeros/);
  await bad([{ prompt, steer: [{ vector: { values: new Array(H).fill(0) }, layer: 1, coef: 1 }] }], /add nothing/);
  await bad([{ prompt, steer: [{ vector: { values: vec(5) }, layer: 1, coef: 1e-47 }] }], /after scaling/);
  const v = vec(6);
  await bad([{ prompt, steer: [{ vector: { values: v }, layer: 1, coef: 1, positions: 'all' }, { vector: { values: v }, layer: 1, coef: -1, positions: 'all' }] }], /added nothing to any token/);
  // The same file at a non-zero row applies.
  const ok = await gen([{ prompt, steer: [{ vector: { file, tensor: 'response_avg_diff' }, layer: 1, coef: 4 }] }]);
  near(ok.rows[0].steeringApplied![0].norm, 4 * norm(data.subarray(H, 2 * H)), 'file row 1');
});
