// Registry-wide checks on tiny random checkpoints against an independent float64 reference
// (test/engine/helpers/reference.ts): configurations the HF fixtures don't cover.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ARCHITECTURES } from '../../src/engine/arch/registry.js';
import { loadModel } from '../../src/engine/model/session.js';
import type { GraphVariant } from '../../src/engine/model/types.js';
import { CASES } from './helpers/cases.js';
import { randomWeights, rng, writeCheckpoint } from './helpers/random-checkpoint.js';
import { referenceForward } from './helpers/reference.js';
import { compare, runSingle } from './helpers/run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-arch-'));
const cacheDir = path.join(tmp, 'cache');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('architectures vs float64 reference', () => {
  const families = new Set<string>();
  for (const [name, raw] of Object.entries(CASES)) {
    test(name, async () => {
      const dir = writeCheckpoint(path.join(tmp, name.replace(/[^a-z0-9]+/gi, '_')), raw, randomWeights(raw, 7));
      const w = randomWeights(raw, 7);
      const ids = [5, 17, 3, 88, 42, 9, 61];
      const L = raw.num_hidden_layers ?? raw.n_layer;
      const H = raw.hidden_size ?? raw.n_embd;
      const gauss = rng(3);
      const steer = new Float32Array((L + 1) * H);
      // Rows 1 (a residual stream) and L (after the final norm) — the two placements of the convention.
      for (let i = 0; i < H; i++) { steer[1 * H + i] = gauss(); steer[L * H + i] = 0.5 * gauss(); }
      const ref = referenceForward(raw, w, ids);
      const refSteered = referenceForward(raw, w, ids, steer);
      for (const variant of ['portable', 'fused'] as GraphVariant[]) {
        const model = await loadModel({ kind: 'folder', path: dir }, { variant, cacheDir, intraOpNumThreads: 1 });
        try {
          families.add(model.config.architecture);
          const out = await runSingle(model, ids);
          const lc = compare(out.logits!, ref.logits);
          assert.ok(lc.ok, `${variant} logits max diff ${lc.maxAbs}`);
          assert.equal(out.hiddenStates!.length, L + 1);
          out.hiddenStates!.forEach((h, i) => {
            const c = compare(h, ref.hidden[i]);
            assert.ok(c.ok, `${variant} hidden_states[${i}] max diff ${c.maxAbs}`);
          });
          const st = await runSingle(model, ids, steer);
          const sc = compare(st.logits!, refSteered.logits);
          assert.ok(sc.ok, `${variant} steered logits max diff ${sc.maxAbs}`);
          st.hiddenStates!.forEach((h, i) => assert.ok(compare(h, refSteered.hidden[i]).ok, `${variant} steered hidden_states[${i}]`));
        } finally {
          await model.dispose();
        }
      }
    });
  }
  test('every registered architecture family is covered by a case', () => {
    for (const fam of ARCHITECTURES) {
      const covered = Object.values(CASES).some((c) => fam.architectures.includes(c.architectures[0]));
      assert.ok(covered, `family ${fam.family} has no test case in architectures.test.ts`);
    }
  });
});

describe('wrapped checkpoints', () => {
  test('Gemma3ForConditionalGeneration: the text tower (nested text_config, language_model.model.* names) equals Gemma3ForCausalLM', async () => {
    const flat = CASES['gemma3 per-head (1+w) q/k norm, local rope base, 2-layer pattern'];
    const w = randomWeights(flat, 9);
    const flatDir = writeCheckpoint(path.join(tmp, 'gemma3-flat'), flat, w);
    const { architectures: _a, ...textConfig } = flat;
    const nestedDir = path.join(tmp, 'gemma3-mm');
    const renamed = new Map([...w].map(([n, t]) => [n.replace(/^model\./, 'language_model.model.'), t]));
    renamed.set('vision_tower.vision_model.post_layernorm.weight', { shape: [8], data: new Float32Array(8) });
    writeCheckpoint(nestedDir, { architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', eos_token_id: [1, 106], text_config: textConfig }, renamed);
    const a = await loadModel({ kind: 'folder', path: flatDir }, { cacheDir, intraOpNumThreads: 1 });
    const b = await loadModel({ kind: 'folder', path: nestedDir }, { cacheDir, intraOpNumThreads: 1 });
    try {
      assert.equal(b.config.numLayers, flat.num_hidden_layers);
      assert.deepEqual(b.config.eosTokenId, [1, 106]);
      const ids = [1, 2, 3, 50, 60, 70];
      const [x, y] = [await runSingle(a, ids), await runSingle(b, ids)];
      assert.deepEqual(Array.from(y.logits!), Array.from(x.logits!));
    } finally {
      await Promise.all([a.dispose(), b.dispose()]);
    }
  });
});
