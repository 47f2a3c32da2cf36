/**
 * Engine runtime profile (issue 16): generation tokens/s (prefill included) and the median decode step's wall ms at
 * batch 1/16/64, and activation-capture time, on a random ~250 M Llama, in-process (no worker), so that the runtime's
 * own cost is what is measured.
 * Not a pass/fail test; prints a table and JSON. The machine is shared: each cell is the median of
 * `--repeat` runs (default 3).
 *
 *   npx tsx scripts/bench/profile-decode.ts [--threads 2] [--repeat 3] [--new 32] [--batches 1,16,64]
 *       [--capture 64] [--small] [--weight-memory prepacked|mapped] [--baseline DIR]
 *
 * `--baseline DIR`: DIR holds an older copy of this repository's src/ (e.g. `git archive <rev> src | tar -x -C DIR`);
 * its engine runs in the same process, alternating with this one cell by cell and run by run, so that the
 * shared machine's load drifts hit both equally; each cell then reports both medians and their ratio.
 * The checkpoint is written once to $PERSONA_LAB_PROFILE_DIR (default /tmp/persona-lab-profile) and reused.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { writeRandomLlama } from '../../test/engine/worker/random-llama.js';
import type { LoadedModel } from '../../src/engine/model/types.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    repeat: { type: 'string', default: '3' },
    new: { type: 'string', default: '32' },
    prompt: { type: 'string', default: '32' },
    batches: { type: 'string', default: '1,16,64' },
    capture: { type: 'string', default: '64' },
    small: { type: 'boolean', default: false },
    'weight-memory': { type: 'string', default: 'prepacked' },
    variant: { type: 'string', default: 'portable' },
    baseline: { type: 'string' },
  },
});
const threads = Number(args.threads);
const repeat = Number(args.repeat);
const newTokens = Number(args.new);
const promptLen = Number(args.prompt);
const batches = args.batches!.split(',').map(Number);
const captureItems = Number(args.capture);

const spec = args.small
  ? { vocab: 32000, hidden: 512, layers: 8, heads: 8, kvHeads: 2, intermediate: 1408 }
  : { vocab: 32000, hidden: 1024, layers: 16, heads: 16, kvHeads: 4, intermediate: 2816 };
const root = process.env.PERSONA_LAB_PROFILE_DIR ?? '/tmp/persona-lab-profile';
const dir = path.join(root, args.small ? 'llama-small' : 'llama-250m');
if (!existsSync(path.join(dir, 'model.safetensors'))) {
  const t0 = performance.now();
  const { params } = writeRandomLlama(dir, { ...spec, seed: 1 });
  console.error(`wrote ${Math.round(params / 1e6)}M-parameter random Llama to ${dir} in ${Math.round(performance.now() - t0)} ms`);
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

interface Engine {
  name: string;
  model: LoadedModel;
  generateBatch: typeof import('../../src/engine/generation/generate.js').generateBatch;
  captureBatch: typeof import('../../src/engine/capture/capture.js').captureBatch;
}
async function engine(name: string, srcRoot: string): Promise<Engine> {
  const mod = async (p: string) => import(pathToFileURL(path.join(srcRoot, p)).href);
  const { loadModel } = await mod('engine/model/session.ts');
  const { generateBatch } = await mod('engine/generation/generate.ts');
  const { captureBatch } = await mod('engine/capture/capture.ts');
  const model: LoadedModel = await loadModel({ kind: 'folder', path: dir }, {
    intraOpNumThreads: threads, cacheDir: path.join(root, `graphs-${name}`),
    weightMemory: args['weight-memory'] as 'mapped' | 'prepacked', variant: args.variant as 'portable' | 'fused',
  });
  console.error(`${name}: loaded in ${Math.round(model.info.loadMs)} ms (cache hit ${model.info.cacheHit}), ${threads} threads, ${args['weight-memory']}, ${args.variant}`);
  return { name, model, generateBatch, captureBatch };
}
const engines = [await engine('current', path.resolve(import.meta.dirname, '..', '..', 'src'))];
if (args.baseline) engines.push(await engine('baseline', path.resolve(args.baseline, 'src')));

function prompts(n: number, len: number, salt: number): number[][] {
  return Array.from({ length: n }, (_, r) => Array.from({ length: len - (r % 5) }, (_, j) => 3 + ((r * 7919 + j * 104729 + salt) % 31000)));
}

async function gen(e: Engine, batch: number, steered: boolean): Promise<number> {
  const { numLayers: L, hiddenSize: H } = e.model.config;
  const delta = new Float32Array(H).map((_, i) => Math.sin(i) * 0.5);
  const rows = prompts(batch, promptLen, batch).map((promptIds, i) => ({
    promptIds, seed: i, steer: steered ? [{ layer: Math.floor(L / 2), positions: 'response' as const, delta }] : undefined,
  }));
  const t0 = performance.now();
  const outs = await e.generateBatch(decodeTimed(e), rows, {
    sampler: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
    maxNewTokens: newTokens, eosTokenIds: [], stop: [], padTokenId: 0,
  }, { checkCancelled() {} });
  const ms = performance.now() - t0;
  return outs.reduce((a, o) => a + o.tokenIds.length, 0) / (ms / 1000);
}

/**
 * Wall ms of each decode step (the forwards after the 'last' prefill one), per engine: tokens/s above includes the
 * prefill, so at batch 1 with few new tokens it is mostly prefill; the decode step is the figure for the bandwidth bound.
 */
const decodeSteps = new Map<string, number[]>();
function decodeTimed(e: Engine): LoadedModel {
  let singles = 0;
  const m = Object.create(e.model) as LoadedModel;
  m.forward = async (inp) => {
    const decode = inp.seqLen === 1 && singles++ > 0;
    const t0 = performance.now();
    const out = await e.model.forward(inp);
    if (decode) decodeSteps.get(e.name)?.push(performance.now() - t0);
    return out;
  };
  return m;
}

async function capture(e: Engine): Promise<number> {
  const items = prompts(captureItems, 64, 17).map((ids) => ({ ids, promptTokens: 24 }));
  const t0 = performance.now();
  for (let s = 0; s < items.length; s += 16) await e.captureBatch(e.model, items.slice(s, s + 16), ['prompt_avg', 'response_avg', 'prompt_last'], 0);
  return performance.now() - t0;
}

/**
 * Runs `fn` `repeat` times per engine, alternating engines run by run; medians per engine. Besides the wall-clock
 * figure, each run's process CPU time (user + system, all threads) is recorded: on a shared, oversubscribed
 * machine it is much steadier than wall time, and the copies this profile is about are CPU work.
 */
async function cell(label: Record<string, unknown>, unit: string, fn: (e: Engine) => Promise<number>) {
  const runs = new Map(engines.map((e) => [e.name, [] as number[]]));
  const cpu = new Map(engines.map((e) => [e.name, [] as number[]]));
  for (const e of engines) decodeSteps.set(e.name, []);
  for (let i = 0; i < repeat; i++) {
    for (const e of engines) {
      const c0 = process.cpuUsage();
      runs.get(e.name)!.push(await fn(e));
      const c = process.cpuUsage(c0);
      cpu.get(e.name)!.push((c.user + c.system) / 1e6);
    }
  }
  const res: Record<string, unknown> = { ...label };
  for (const [name, xs] of runs) {
    const steps = decodeSteps.get(name)!;
    res[name] = { [unit]: +median(xs).toFixed(2), runs: xs.map((x) => +x.toFixed(2)), cpu_s: +median(cpu.get(name)!).toFixed(2), ...(steps.length ? { decode_ms_per_step: +median(steps).toFixed(2) } : {}) };
  }
  if (engines.length > 1) res.cpu_ratio = +(median(cpu.get('current')!) / median(cpu.get('baseline')!)).toFixed(3);
  if (engines.length > 1) res.ratio = +(median(runs.get('current')!) / median(runs.get('baseline')!)).toFixed(3);
  console.error(JSON.stringify(res));
  return res;
}

const results: Record<string, unknown>[] = [];
for (const e of engines) await gen(e, 2, false); // warm-up (allocator, thread pool)
for (const batch of batches) {
  for (const steered of [false, true]) results.push(await cell({ workload: steered ? 'steered-gen' : 'gen', batch }, 'tok_s', (e) => gen(e, batch, steered)));
}
if (captureItems > 0) results.push(await cell({ workload: 'capture', items: captureItems, batch: 16 }, 'ms', capture));
for (const e of engines) await e.model.dispose();
console.log(JSON.stringify({ model: `random-llama ${JSON.stringify(spec)}`, threads, weightMemory: args['weight-memory'], variant: args.variant, repeat, newTokens, promptLen, results }, null, 1));
