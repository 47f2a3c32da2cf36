// Parity against the HF reference dumps in ../shared/fixtures/parity (every fixture × both graph variants).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CompileError } from '../../src/engine/model/errors.js';
import { runParity, type ParityOptions } from '../../src/engine/model/parity.js';
import type { GraphVariant } from '../../src/engine/model/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixturesDir = path.resolve(repoRoot, '../shared/fixtures/parity');
const fixtures = fs.existsSync(fixturesDir)
  ? fs.readdirSync(fixturesDir).filter((n) => fs.existsSync(path.join(fixturesDir, n, 'expected.safetensors'))).sort()
  : [];
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-parity-cache-'));
after(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

/**
 * The compile cache hard-links the weights; when the fixtures are read-only and owned by another user
 * (fs.protected_hardlinks) and on no writable folder, compiling in place is impossible by design, so
 * the test then runs on a private copy of the (small) fixture — same bytes, same checks.
 */
async function parity(dir: string, opts: ParityOptions) {
  try {
    return await runParity(dir, opts);
  } catch (e) {
    if (!CompileError.is(e, 'cache')) throw e;
    const copy = path.join(cacheDir, 'fixtures', path.basename(dir));
    fs.cpSync(dir, copy, { recursive: true });
    return runParity(copy, opts);
  }
}

describe('parity with HF reference fixtures', () => {
  if (fixtures.length === 0) {
    test('fixtures', (t) => t.skip(`no fixtures at ${fixturesDir} (../shared absent)`));
    return;
  }
  for (const fixture of fixtures) {
    for (const variant of ['portable', 'fused'] as GraphVariant[]) {
      test(`${fixture} (${variant})`, async () => {
        const r = await parity(path.join(fixturesDir, fixture), { variant, cacheDir, intraOpNumThreads: 1 });
        const msg = JSON.stringify(r);
        assert.ok(r.batch.logits.ok && r.batch.hiddenStates.ok, `left-padded batch out of tolerance: ${msg}`);
        assert.ok(r.single.logits.ok && r.single.hiddenStates.ok, `single sequence out of tolerance: ${msg}`);
        assert.deepEqual(r.greedy.got, r.greedy.expected, 'greedy tokens with KV cache');
        assert.ok(r.greedy.stepLogits.ok, `greedy step logits: ${msg}`);
        assert.ok(r.steered.logits.ok && r.steered.hiddenStates.ok, `steered outputs: ${msg}`);
        assert.ok(r.steeredGreedy.match, `steered greedy tokens: ${msg}`);
        assert.ok(r.zeroSteeringBitwise, 'zero steering must be bitwise identical to no steering');
        assert.ok(r.mixedBatch.steeredRow.ok && r.mixedBatch.plainRow.ok, `mixed steered/plain batch: ${msg}`);
        assert.ok(r.ok);
      });
    }
  }
});
