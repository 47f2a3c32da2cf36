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
      for (let i = 0; i < H; i++) steer[1 * H + i] = gauss();
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
