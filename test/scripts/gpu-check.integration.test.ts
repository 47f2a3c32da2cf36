/**
 * scripts/gpu-check.sh off a GPU machine: without an NVIDIA GPU it says so and exits 2 (it measures real
 * GPUs; nothing is written but its output folder); with --allow-software it runs the parity fixtures on
 * WebGPU over lavapipe (f32 and f16, both variants) and writes one JSON with the verdicts. The GPU path
 * itself runs only on a GPU machine (see the script's header).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..', '..');
const hasNvidia = existsSync('/dev/nvidia0') || spawnSync('nvidia-smi', ['-L']).status === 0;
const hasLavapipe = existsSync('/usr/share/vulkan/icd.d') && readdirSync('/usr/share/vulkan/icd.d').some((n) => n.startsWith('lvp_icd'));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'persona-lab-gpu-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
// Two fixtures keep this quick (test/engine/webgpu.integration.test.ts covers all four); gpt2 is f16's hardest case.
const run = (out: string, ...args: string[]) => spawnSync('bash', ['scripts/gpu-check.sh', ...args],
  { cwd: root, encoding: 'utf8', env: { ...process.env, OUT: out, PERSONA_LAB_GPU_CHECK_FIXTURES: 'gpt2 llama_gqa' } });

test('no NVIDIA GPU: says so, points at --allow-software, exits 2', { skip: hasNvidia ? 'this machine has an NVIDIA GPU' : false }, () => {
  const r = run(path.join(tmp, 'none'));
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /no NVIDIA GPU here/);
  assert.match(r.stderr, /--allow-software/);
  assert.ok(!existsSync(path.join(tmp, 'none', 'gpu-check.json')), 'no figures were written');
});

test('--allow-software: parity fixtures on WebGPU over lavapipe, one JSON with every verdict', {
  skip: hasNvidia ? 'this machine has an NVIDIA GPU' : !hasLavapipe ? 'no lavapipe ICD (scripts/webgpu-setup.sh installs it)'
    : !existsSync(path.join(root, 'dist', 'cli.js')) ? 'dist/ is not built' : false,
  timeout: 300_000,
}, () => {
  const out = path.join(tmp, 'soft');
  const r = run(out, '--allow-software');
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(readFileSync(path.join(out, 'gpu-check.json'), 'utf8')) as {
    ok: boolean; provider: string; software: boolean; gpu: null; bench: { skipped: string };
    parity: Record<string, Record<'f32' | 'f16', { ok: boolean; variants: { variant: string; provider: string; maxAbsLogits: number }[] }>>;
  };
  assert.deepEqual([doc.ok, doc.provider, doc.software, doc.gpu], [true, 'webgpu', true, null]);
  assert.deepEqual(Object.keys(doc.parity).sort(), ['gpt2', 'llama_gqa']);
  for (const [fx, byFormat] of Object.entries(doc.parity)) {
    for (const fmt of ['f32', 'f16'] as const) {
      assert.ok(byFormat[fmt].ok, `${fx} ${fmt}`);
      assert.deepEqual(byFormat[fmt].variants.map((v) => `${v.variant}/${v.provider}`), ['portable/webgpu', 'fused/webgpu']);
    }
    assert.ok(byFormat.f32.variants.every((v) => v.maxAbsLogits <= 1e-4));
  }
  assert.match(doc.bench.skipped, /correctness only/);
});
