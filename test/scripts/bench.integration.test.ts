/**
 * `npm run bench` (scripts/bench): the bench itself on the toy (`--quick --no-peer`, the real worker process)
 * and the shape of bench/results/latest.json; its bench-made checkpoints (deterministic, sharded, the
 * parameter count it reports is the one on disk); its summary arithmetic; and the PyTorch peer's parity
 * against the shared fixtures, which runs when a python3 with torch is installed and skips with that reason
 * otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { readSafetensorsHeader } from '../../src/engine/weights/safetensors.js';
import { describeModel, ensureRandomLlama, RANDOM_SPECS } from '../../scripts/bench/models.js';
import { checkPeerParity, findTorchPython, parityFixtures, TorchPeer } from '../../scripts/bench/peer.js';
import { buildSummary, type ModelRun } from '../../scripts/bench/report.js';
import { key, threadCandidates, type Measure, type SideResult } from '../../scripts/bench/sides.js';
import { decodeShare, makeCaptureItems, makePlan, makePrompts, newTokensAt } from '../../scripts/bench/workloads.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-bench-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const bench = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'bench', 'run.ts'), ...args], {
  cwd: root, encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, timeout: 170_000,
});

describe('npm run bench on the toy (--quick --no-peer)', () => {
  test('writes one object per cell with the documented keys, the summary figures and machine info', () => {
    const out = path.join(tmp, 'latest.json');
    const r = bench(['--models', 'toy', '--formats', 'f32', '--quick', '--reps', '1', '--workloads', 'gen,steered-gen,capture,capture-batched,load', '--no-peer', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\| workload \| model \| format \| batch \| ours tok\/s \| peer tok\/s \| ratio \|/);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    const workloads = new Set(['gen', 'steered-gen', 'capture', 'capture-batched', 'load', 'decode-b1']);
    assert.ok(j.cells.length > 0);
    for (const c of j.cells) {
      for (const k of ['workload', 'model', 'format', 'batch', 'ours_tok_s', 'peer_tok_s', 'ratio']) assert.ok(k in c, `cell lacks ${k}: ${JSON.stringify(c)}`);
      assert.ok(workloads.has(c.workload), c.workload);
      assert.equal(c.model, 'toy');
      assert.equal(c.format, 'f32');
      assert.equal(c.peer_tok_s, null);
      assert.equal(c.ratio, null);
    }
    // every generation cell of the quick plan, with a real figure
    for (const w of ['gen', 'steered-gen']) {
      for (const b of [1, 4]) {
        const c = j.cells.find((x: { workload: string; batch: number }) => x.workload === w && x.batch === b);
        assert.ok(c && c.ours_tok_s > 0, `${w} b${b}: ${JSON.stringify(c)}`);
      }
    }
    for (const w of ['capture', 'capture-batched', 'decode-b1']) assert.ok(j.cells.some((x: { workload: string; ours_tok_s: number }) => x.workload === w && x.ours_tok_s > 0), w);
    const load = j.cells.find((x: { workload: string }) => x.workload === 'load');
    assert.ok(load.ours_ms > 0 && load.ours_peak_rss_bytes > 0);
    assert.equal(typeof j.bandwidth_fraction_b1.toy.f32, 'number');
    assert.ok(j.rss_over_weight_bytes > 0);
    assert.equal(typeof j.steering_overhead, 'number');
    assert.ok(j.machine.bandwidthGBs.used > 0 && j.machine.bandwidthGBs.ortRead > 0 && j.machine.gemmGflops.used > 0 && j.machine.cpus > 0);
    // every timed cell says under which load it ran; the machine figures were probed next to the cells they divide
    for (const c of j.cells) assert.ok(Array.isArray(c.ours_loadavg) && c.ours_loadavg.length === 3, `${c.workload} lacks ours_loadavg`);
    const probes = j.probes['toy/f32'];
    assert.deepEqual(probes.map((p: { label: string }) => p.label), ['before-b1', 'after-b1', 'before-b4', 'after-b4']);
    assert.ok(probes[0].readGBs > 0 && probes[0].copyGBs > 0 && probes[2].gemmGflops > 0);
    // batch-1 decode comes from ≥ 16 decode steps timed one by one
    assert.ok(j.detail.decode_b1['toy/f32'].steps >= 16, JSON.stringify(j.detail.decode_b1));
    assert.equal(typeof j.bandwidth_fraction_b1_vs_copy.toy.f32, 'number');
    assert.equal(j.settings.planName, 'smoke');
    assert.equal(j.peer.skipped, '--no-peer');
    assert.equal(j.settings.threads, 2);
  });

  test('bad flags are refused before any work, naming what is accepted', () => {
    const p = bench(['--plan', 'fast', '--no-peer']);
    assert.equal(p.status, 2);
    assert.match(p.stderr, /unknown plan 'fast' \(known: full, quick, smoke\)/);
    const r = bench(['--models', 'toy,gpt-17', '--no-peer']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown model 'gpt-17' \(known: toy, random-llama-1b/);
    const f = bench(['--formats', 'fp8']);
    assert.equal(f.status, 2);
    assert.match(f.stderr, /unknown format 'fp8' \(known: f32, f16, bf16, int8, int4\)/);
  });
});

describe('bench checkpoints', () => {
  test('random Llama: deterministic, sharded with an index, parameter count matches the files', () => {
    const spec = { ...RANDOM_SPECS['random-llama-tiny'], layers: 2 };
    const a = ensureRandomLlama(path.join(tmp, 'a'), spec);
    const b = ensureRandomLlama(path.join(tmp, 'b'), spec);
    const shards = readdirSync(a).filter((f) => f.endsWith('.safetensors')).sort();
    assert.equal(shards.length, spec.shards);
    for (const f of shards) assert.ok(readFileSync(path.join(a, f)).equals(readFileSync(path.join(b, f))), `${f} differs between two writes`);
    let onDisk = 0;
    for (const f of shards) for (const t of readSafetensorsHeader(path.join(a, f)).tensors.values()) {
      assert.equal(t.dtype, 'BF16');
      onDisk += t.shape.reduce((x, y) => x * y, 1);
    }
    const d = describeModel('t', a);
    assert.equal(d.params, onDisk);
    const c = ensureRandomLlama(path.join(tmp, 'c'), { ...spec, seed: 2 });
    assert.ok(!readFileSync(path.join(a, shards[0])).equals(readFileSync(path.join(c, shards[0]))), 'another seed gives other weights');
  });

  test('workload inputs avoid BOS/EOS/pad ids and stay inside the vocabulary and positions', () => {
    for (const row of makePrompts(64, 32, 1070)) for (const id of row) assert.ok(id >= 3 && id < 1070);
    const items = makeCaptureItems(200, 1070, 256);
    assert.equal(items.length, 200);
    for (const it of items) assert.ok(it.prompt.length >= 1 && it.response.length >= 1 && it.prompt.length + it.response.length <= 256);
  });
});

describe('bench summary', () => {
  const m = { name: 'm', dir: '', params: 1000, fileBytes: 2000, dtype: 'bfloat16', layers: 2, hidden: 10, vocab: 20, maxPositions: 4096, f32BytesPerToken: 3200, kvBytesPerPosition: 0, tied: false };
  const meas = (s: number, tokens: number, stepS?: number): Measure => ({ s, tokS: tokens / s, tokens, timesS: [s], ...(stepS ? { stepS, steps: 16 } : {}) });
  test('steering overhead is the worst steered/plain ratio over batches minus 1; rss ratio is peak over resident format bytes', () => {
    const plan = makePlan({ quick: true, workloads: ['gen', 'steered-gen'], newTokens: 8 });
    const cells = new Map<string, Measure>([
      [key('gen', 1, 32), meas(1, 8, 0.1)], [key('steered-gen', 1, 32), meas(1.05, 8)],
      [key('gen', 4, 32), meas(2, 32)], [key('steered-gen', 4, 32), meas(2.5, 32)],
    ]);
    const ours: SideResult = { settings: {}, cells, peakRssBytes: 4600, residentWeightBytes: 4000, kvBytesPerToken: 0 };
    const run: ModelRun = { model: m, ours: new Map([['f32', ours]]) };
    const s = buildSummary([run], plan, 1e-6, 1);
    assert.equal(s.steering_overhead, 0.25);
    assert.equal(s.rss_over_weight_bytes, 1.15);
    // b1 decode: a 0.1 s median step = 10 tok/s; bytes/token = 4000 × (800/1000) = 3200; bound = 1000 B/s / 3200 B
    assert.equal(s.bandwidth_fraction_b1.m.f32, +(10 / (1000 / 3200)).toFixed(3));
  });

  test('the fractions divide by the figures probed next to their cells (the highest of each pair), not the whole-run ones', () => {
    const plan = makePlan({ quick: true, workloads: ['gen'], newTokens: 8 });
    const cells = new Map<string, Measure>([[key('gen', 1, 32), meas(1, 8, 0.1)], [key('gen', 4, 32), meas(2, 32)]]);
    const probes = [
      { at: '', label: 'before-b1', loadavg: [1, 1, 1], readGBs: 2e-6, copyGBs: 4e-6 }, { at: '', label: 'after-b1', loadavg: [1, 1, 1], readGBs: 1e-6, copyGBs: 3e-6 },
      { at: '', label: 'before-b4', loadavg: [1, 1, 1], gemmGflops: 5 }, { at: '', label: 'after-b4', loadavg: [1, 1, 1], gemmGflops: 4 },
    ];
    const ours: SideResult = { settings: {}, cells, residentWeightBytes: 4000, kvBytesPerToken: 0, probes };
    const s = buildSummary([{ model: m, ours: new Map([['f32', ours]]) }], plan, 1e-6, 1, 8e-6);
    // 10 tok/s × 3200 B = 32 000 B/s against 2000 B/s read (the best probe) and 4000 B/s copy
    assert.equal(s.bandwidth_fraction_b1.m.f32, 16);
    assert.equal(s.bandwidth_fraction_b1_vs_copy.m.f32, 8);
    const g = (s.detail.gemm_at_max_batch as Record<string, { gemm_peak_gflop_s: number }>)['m/f32'];
    assert.equal(g.gemm_peak_gflop_s, 5);
  });

  test('the quick plan: batch 1, 16, 64 with ≥ 17 new tokens at batch 1 (≥ 16 timed decode steps); explicit flags override it', () => {
    const q = makePlan({ plan: 'quick', workloads: ['gen'] });
    assert.deepEqual(q.batches, [1, 16, 64]);
    assert.ok(newTokensAt(q, 1) >= 17);
    for (const b of q.batches) assert.ok(decodeShare(q, b) >= 0.6, `decode forwards only ${decodeShare(q, b)} of the tokens at batch ${b}`);
    assert.equal(newTokensAt(makePlan({ plan: 'quick', workloads: ['gen'], newTokens: 40 }), 64), 40);
  });

  test('the peer thread search covers every intra-op × BLAS pair up to the thread budget', () => {
    assert.deepEqual(threadCandidates(2), [{ intra: 1, blas: 1 }, { intra: 1, blas: 2 }, { intra: 2, blas: 1 }, { intra: 2, blas: 2 }]);
    assert.deepEqual(threadCandidates(1), [{ intra: 1, blas: 1 }]);
  });
});

const python = findTorchPython();
describe('PyTorch peer parity (scripts/bench/peer_torch.py)', () => {
  test('reproduces every Llama-family parity fixture to ≤ 1e-4 (logits, hidden states, steering hook, KV-cache greedy)', {
    skip: python ? (parityFixtures(root).length ? false : 'no parity fixtures in ../shared/fixtures/parity') : 'no python3 with torch here (Debian: apt-get install python3-torch; `npm run bench` installs it)',
  }, async () => {
    const peer = TorchPeer.start(python!, { intra: 1, blas: 1 });
    try {
      const res = await checkPeerParity(peer, root);
      assert.deepEqual(res.map((r) => r.fixture).sort(), ['llama_gqa', 'olmo2', 'qwen2']);
      for (const r of res) {
        assert.ok(r.ok && r.max_abs_err <= 1e-4, `${r.fixture}: ${JSON.stringify(r.errors)}`);
        assert.ok(r.greedy_tokens_equal);
      }
    } finally {
      await peer.close();
    }
  });
});
