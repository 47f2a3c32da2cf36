/**
 * `npm run bench` — Persona Lab's engine against the method researchers use today (PyTorch eager + forward
 * hooks), on the same weights, threads and token ids. A benchmark that prints figures, not a pass/fail test.
 *
 *   npx tsx scripts/bench/run.ts [--plan full|quick|smoke] [--models toy,random-llama-1b] [--formats f32,int8,int4] [--provider cpu|cuda|webgpu]
 *     [--workloads gen,steered-gen,capture,capture-batched,load,scaling] [--threads 2] [--quick] [--no-peer] [--out FILE] [--peer-thread-search]
 *     [--batches 1,16,64] [--new-tokens 64] [--reps 3] [--pairs 5] [--capture-items 200] [--peer-threads INTRA,BLAS] [--weight-memory default|prepacked|mapped] [--no-llama-cpp] [--llama-cpp-threads 1,2]
 *     [--no-prune-cache]
 *
 * Models are made by the bench (scripts/bench/models.ts) and cached in .cache/bench/models; compiled graphs in
 * .cache/bench/graphs; a run starts by pruning that cache's stale entries (older compiler or graph revision, changed
 * models; src/engine/model/cache-admin.ts, as `persona-lab cache prune --stale`; --no-prune-cache keeps them). The peer (scripts/bench/peer_torch.py) must reproduce the parity fixtures before it is timed,
 * and runs at the best of its thread settings (searched per model). Output: a Markdown table on stdout (progress on
 * stderr) and bench/results/latest.json (one object per cell + summary + machine + settings).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ExecutionProvider, WeightFormat } from '../../src/engine/model/types.js';
import { WEIGHT_FORMATS } from '../../src/engine/model/types.js';
import { ensureNodeLlamaCpp, runLlamaCpp } from './llamacpp.js';
import type { GgufType } from './gguf.js';
import { measureMachine, type MachineInfo } from './machine.js';
import { MODEL_NAMES, resolveModel } from './models.js';
import { checkPeerParity, ensureTorchPython, TorchPeer, type ParityResult, type PeerThreads } from './peer.js';
import { buildCells, buildSummary, markdown, type Cell, type ModelRun, type Summary } from './report.js';
import { runOurs, runPeer, searchPeerThreads, type PeerProbe } from './sides.js';
import { makePlan, maxNewTokens, newTokensAt, PLANS, WORKLOADS, type PlanName, type Workload } from './workloads.js';
import { formatBytes, pruneCompileCacheEntries } from '../../src/engine/model/cache-admin.js';
import { currentSessionTags } from '../../src/engine/model/cache-session-tags.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const CACHE = path.join(ROOT, '.cache', 'bench');

const USAGE = `usage: npx tsx scripts/bench/run.ts [--plan ${PLANS.join('|')}] [--models ${MODEL_NAMES.join(',')}] [--formats ${WEIGHT_FORMATS.join(',')}]
  [--provider cpu|cuda|webgpu] [--workloads ${WORKLOADS.join(',')}] [--threads 2] [--quick (= --plan smoke)] [--no-peer] [--out FILE] [--peer-thread-search]
  [--batches 1,16,64] [--new-tokens 64] [--reps 3] [--pairs 5] [--capture-items 200] [--peer-threads INTRA,BLAS] [--weight-memory default|prepacked|mapped] [--no-llama-cpp] [--llama-cpp-threads 1,2] [--no-prune-cache]
  [--render RESULTS.json] (prints the Markdown tables of an earlier run's JSON, measures nothing)`;

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const ints = (s: string, name: string) => list(s).map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n < 1) fail(`--${name}: '${x}' is not a positive integer`);
  return n;
});

export function parseBenchArgs(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        plan: { type: 'string' }, 'peer-thread-search': { type: 'boolean', default: false },
        models: { type: 'string' }, formats: { type: 'string' },
        provider: { type: 'string', default: 'cpu' }, workloads: { type: 'string' },
        threads: { type: 'string', default: '2' }, quick: { type: 'boolean', default: false }, 'no-peer': { type: 'boolean', default: false },
        out: { type: 'string', default: path.join('bench', 'results', 'latest.json') }, batches: { type: 'string' }, 'new-tokens': { type: 'string' },
        reps: { type: 'string' }, pairs: { type: 'string' }, 'capture-items': { type: 'string' }, 'peer-threads': { type: 'string' }, 'weight-memory': { type: 'string', default: 'default' },
        'no-llama-cpp': { type: 'boolean', default: false }, 'llama-cpp-threads': { type: 'string' }, 'no-prune-cache': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false }, render: { type: 'string' },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) { process.stdout.write(`${USAGE}\n`); process.exit(0); }
  if (values.render !== undefined) { process.stdout.write(renderResults(path.resolve(ROOT, values.render)) + '\n'); process.exit(0); }
  if (values.plan !== undefined && !PLANS.includes(values.plan as PlanName)) fail(`unknown plan '${values.plan}' (known: ${PLANS.join(', ')})`);
  if (values.plan !== undefined && values.quick && values.plan !== 'smoke') fail('--quick is --plan smoke; give one of them');
  const planName: PlanName = (values.plan as PlanName | undefined) ?? (values.quick ? 'smoke' : 'full');
  // The quick plan: the ~1 B model in f32, int8 and int4 (int4 at batch 1 and 16 only: workloads.ts QUICK.formatScope), no scaling rows, the peer at the thread setting the issue found best
  // (torch intra-op 1, OpenBLAS 2; --peer-thread-search searches instead), llama.cpp at --threads only.
  const quick = planName === 'quick';
  values.models ??= quick ? 'random-llama-1b' : 'toy,random-llama-1b';
  values.formats ??= 'f32,int8,int4';
  values.workloads ??= quick ? 'gen,steered-gen,capture,capture-batched,load' : WORKLOADS.join(',');
  const models = list(values.models);
  for (const m of models) if (!MODEL_NAMES.includes(m)) fail(`unknown model '${m}' (known: ${MODEL_NAMES.join(', ')})`);
  const formats = list(values.formats) as WeightFormat[];
  for (const f of formats) if (!WEIGHT_FORMATS.includes(f)) fail(`unknown format '${f}' (known: ${WEIGHT_FORMATS.join(', ')})`);
  const workloads = list(values.workloads) as Workload[];
  for (const w of workloads) if (!WORKLOADS.includes(w)) fail(`unknown workload '${w}' (known: ${WORKLOADS.join(', ')})`);
  if (!['cpu', 'cuda', 'webgpu'].includes(values.provider)) fail(`unknown provider '${values.provider}' (cpu, cuda, webgpu)`);
  if (!['default', 'prepacked', 'mapped'].includes(values['weight-memory'])) fail(`--weight-memory must be default, prepacked or mapped`);
  const [threads] = ints(values.threads, 'threads');
  let peerThreads: PeerThreads | undefined = quick && !values['peer-thread-search'] ? { intra: 1, blas: Math.min(2, threads) } : undefined;
  if (values['peer-threads'] && values['peer-thread-search']) fail('--peer-threads and --peer-thread-search exclude each other');
  if (values['peer-threads']) {
    const [intra, blas] = ints(values['peer-threads'], 'peer-threads');
    if (!blas) fail('--peer-threads takes INTRA,BLAS');
    peerThreads = { intra, blas };
  }
  const plan = makePlan({
    plan: planName, workloads,
    batches: values.batches ? ints(values.batches, 'batches') : undefined,
    newTokens: values['new-tokens'] ? ints(values['new-tokens'], 'new-tokens')[0] : undefined,
    reps: values.reps ? ints(values.reps, 'reps')[0] : undefined,
    steerPairs: values.pairs ? ints(values.pairs, 'pairs')[0] : undefined,
    captureItems: values['capture-items'] ? ints(values['capture-items'], 'capture-items')[0] : undefined,
  });
  return {
    models, formats, workloads, plan, threads, peerThreads, quick: values.quick, noPeer: values['no-peer'],
    llamaCppThreads: values['llama-cpp-threads'] ? ints(values['llama-cpp-threads'], 'llama-cpp-threads') : quick ? [threads] : undefined, noLlamaCpp: values['no-peer'] || values['no-llama-cpp'],
    pruneCache: !values['no-prune-cache'],
    provider: values.provider as ExecutionProvider, out: path.resolve(ROOT, values.out), weightMemory: values['weight-memory'] === 'default' ? undefined : values['weight-memory'] as 'prepacked' | 'mapped',
  };
}

/** The Markdown report of an earlier run, from its JSON (the cells and summary fields it wrote). */
export function renderResults(file: string): string {
  let j: Record<string, unknown> & { cells: Cell[]; skipped?: { model: string; format: string; reason: string }[] };
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`--render: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(j.cells)) fail(`--render: ${file} has no cells (not a bench result)`);
  const summary = {
    bandwidth_fraction_b1: j.bandwidth_fraction_b1 ?? {}, bandwidth_fraction_b1_vs_copy: j.bandwidth_fraction_b1_vs_copy ?? {},
    rss_over_weight_bytes: j.rss_over_weight_bytes ?? null, rss_over_weight_bytes_at: j.rss_over_weight_bytes_at ?? null,
    steering_overhead: j.steering_overhead ?? null, steering_overhead_at: j.steering_overhead_at ?? null,
    steering_overhead_by_batch: j.steering_overhead_by_batch ?? {}, gemm_fraction_decode_max_batch: j.gemm_fraction_decode_max_batch ?? {}, detail: j.detail ?? {},
  } as Summary;
  const m = j.machine as { cpus?: number; cpuModel?: string; loadavgStart?: number[]; loadavgEnd?: number[] } | undefined;
  const st = j.settings as { planName?: string; threads?: number; provider?: string } | undefined;
  const header = [`## npm run bench — ${j.started} → ${j.finished}${j.partial ? ' (partial)' : ''} — ${m?.cpus}× ${m?.cpuModel}, ${st?.threads} threads, provider ${st?.provider}, ` +
    `plan ${st?.planName}, load avg ${m?.loadavgStart?.[0]} → ${m?.loadavgEnd?.[0]} (rendered from ${path.relative(ROOT, file)})`];
  return markdown(j.cells, summary, j.skipped ?? [], header);
}

async function main() {
  const args = parseBenchArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const started = new Date();
  const loadStart = os.loadavg().map((x) => +x.toFixed(2));
  const { plan } = args;
  if (args.pruneCache) {
    // Stale graph entries (never hit again) only; current ones, and any in use by another process, stay.
    const r = await pruneCompileCacheEntries(path.join(CACHE, 'graphs'), { sessionTags: currentSessionTags() });
    log(`compile cache .cache/bench/graphs: ${r.removed.length ? `removed ${r.removed.length} stale item(s), freed ${formatBytes(r.freedBytes)}` : 'nothing stale'}` +
      `${r.kept.length ? `, ${r.kept.length} stale kept (in use)` : ''}${r.failed.length ? `, ${r.failed.length} could not be removed` : ''} (--no-prune-cache keeps them)`);
  }
  // Node/onnxruntime machine figures up front (partial results use them); torch's are added at the end
  let machine: MachineInfo = await measureMachine(args.threads);

  // ---- the peer: found or installed, then checked against the parity fixtures before anything is timed
  let python: string | undefined;
  let peerSkipped: string | undefined = args.noPeer ? '--no-peer' : undefined;
  let parity: ParityResult[] = [];
  let torchMachine: { copy_gb_s: number; read_gb_s: number; gemm_gflop_s: number } | undefined;
  let torchVersion: string | undefined;
  let pythonVersion: string | undefined;
  if (!peerSkipped && args.provider !== 'cpu') peerSkipped = `the PyTorch peer runs on CPU only here; comparing a ${args.provider} run with it would mislead (scripts/gpu-check.sh runs a CUDA peer where transformers+torch are installed)`;
  if (!peerSkipped) {
    try {
      python = ensureTorchPython(log);
      const p = TorchPeer.start(python, { intra: 1, blas: 1 });
      try {
        const hello = await p.request<{ torch: string; python: string }>({ cmd: 'hello' });
        torchVersion = hello.torch;
        pythonVersion = hello.python;
        log(`peer: ${python} (Python ${pythonVersion}, torch ${torchVersion})`);
        parity = await checkPeerParity(p, ROOT);
      } finally {
        await p.close();
      }
      for (const x of parity) log(`peer parity ${x.fixture}: max abs err ${x.max_abs_err.toExponential(2)}${x.ok ? '' : ' FAILED'}`);
      const bad = parity.filter((x) => !x.ok);
      if (bad.length) peerSkipped = `the peer failed parity (${bad.map((b) => `${b.fixture}: ${b.max_abs_err.toExponential(2)}${b.greedy_tokens_equal ? '' : ', greedy tokens differ'}`).join('; ')}); refusing to time it`;
    } catch (e) {
      peerSkipped = (e as Error).message;
    }
  }
  if (peerSkipped) log(`peer skipped: ${peerSkipped}`);

  // ---- models and runs
  const runs: ModelRun[] = [];
  const skipped: { model: string; format: string; reason: string }[] = [];
  const peerSearch: Record<string, { best: PeerThreads; probes: PeerProbe[] }> = {};
  for (const name of args.models) {
    const model = resolveModel(name, ROOT, CACHE, log);
    log(`== ${name}: ${(model.params / 1e6).toFixed(1)} M params, ${(model.fileBytes / 1e6).toFixed(0)} MB ${model.dtype} on disk`);
    const run: ModelRun = { model, ours: new Map() };
    if (python && !peerSkipped) {
      let threads = args.peerThreads;
      if (!threads) {
        log('  peer thread search…');
        const s = await searchPeerThreads(python, model, plan, args.threads, log);
        peerSearch[name] = s;
        threads = s.best;
      }
      if (!torchMachine) {
        const p = TorchPeer.start(python, threads);
        try { torchMachine = await p.request({ cmd: 'machine' }); } finally { await p.close(); }
      }
      log(`  peer (torch ${torchVersion}, intra-op ${threads.intra}, BLAS ${threads.blas})…`);
      run.peer = await runPeer(python, model, plan, threads, log, args.threads);
    } else run.peerSkipped = peerSkipped;
    // the quick plan runs all three GGUF types (the bar for f32, int8 and int4) even where ours skips int4
    const ggufTypes = (args.plan.name === 'quick' ? ['F32', 'Q8_0', 'Q4_0'] as GgufType[]
      : args.formats.map((f) => ({ f32: 'F32', int8: 'Q8_0', int4: 'Q4_0' } as Record<string, GgufType>)[f]).filter(Boolean));
    if (args.noLlamaCpp) run.llamaCppSkipped = args.noPeer ? '--no-peer' : '--no-llama-cpp';
    else if (args.provider !== 'cpu') run.llamaCppSkipped = 'CPU peer only';
    else if (!plan.workloads.includes('gen')) run.llamaCppSkipped = 'needs the gen workload (decode-b1 rows)';
    else if (ggufTypes.length) {
      try {
        const entry = ensureNodeLlamaCpp(path.join(CACHE, 'llama-cpp'), log);
        log('  llama.cpp (node-llama-cpp, prebuilt CPU binaries)…');
        run.llamaCpp = await runLlamaCpp(entry, path.join(CACHE, 'gguf', model.name), model, ggufTypes, args.llamaCppThreads ?? [...new Set([1, args.threads])], Math.min(plan.promptTokens, model.maxPositions - maxNewTokens(plan) - 1), newTokensAt(plan, 1), plan.reps, log);
      } catch (e) {
        run.llamaCppSkipped = (e as Error).message.split('\n')[0];
        log(`  llama.cpp skipped: ${run.llamaCppSkipped}`);
      }
    }
    for (const format of args.formats) {
      log(`  ours ${format}…`);
      const res = await runOurs(model, plan, { threads: args.threads, provider: args.provider, format, cacheDir: path.join(CACHE, 'graphs'), weightMemory: args.weightMemory, log });
      if (res.skipped) { skipped.push({ model: name, format, reason: res.skipped }); log(`    skipped: ${res.skipped}`); }
      run.ours.set(format, res);
      if (!runs.includes(run)) runs.push(run);
      emit(true);
    }
    if (!runs.includes(run)) runs.push(run);
  }

  function emit(partial: boolean) {
    const cells = buildCells(runs, plan, machine.gemmGflops.used);
    const summary = buildSummary(runs, plan, machine.bandwidthGBs.used, machine.gemmGflops.used, machine.bandwidthGBs.nodeCopy);
    const loadEnd = os.loadavg().map((x) => +x.toFixed(2));
    const result = {
      bench: 'persona-lab npm run bench', version: 1, started: started.toISOString(), finished: new Date().toISOString(), ...(partial ? { partial: true } : {}),
      machine: { ...machine, loadavgEnd: loadEnd, note: 'figures depend on machine load: compare only rows from the same run' },
      settings: { planName: plan.name, threads: args.threads, provider: args.provider, formats: args.formats, workloads: args.workloads, quick: args.quick, weightMemory: args.weightMemory ?? 'default (the worker\'s: follows the checkpoint dtype)', plan },
      peer: peerSkipped
        ? { skipped: peerSkipped, parity }
        : {
            kind: 'pytorch-eager (scripts/bench/peer_torch.py: HF-faithful Llama-family forward, KV cache, upstream ActivationSteerer hook, upstream get_hidden_p_and_r capture)',
            torch: torchVersion, python, python_version: pythonVersion, format: 'f32', parity,
            threads: Object.fromEntries(runs.map((r) => [r.model.name, r.peer?.settings])), thread_search: peerSearch,
          },
      models: runs.map((r) => ({ name: r.model.name, dir: path.relative(ROOT, r.model.dir), params: r.model.params, file_bytes: r.model.fileBytes, dtype: r.model.dtype, layers: r.model.layers, hidden: r.model.hidden, vocab: r.model.vocab })),
      llama_cpp: Object.fromEntries(runs.map((r) => [r.model.name, r.llamaCpp ?? { skipped: r.llamaCppSkipped }])),
      ours: Object.fromEntries(runs.flatMap((r) => [...r.ours].map(([f, s]) => [`${r.model.name}/${f}`, s.skipped ? { skipped: s.skipped } : s.settings]))),
      // machine figures taken next to the cells they divide (read/copy bandwidth around the b1 cells, GEMM around the largest batch)
      probes: Object.fromEntries(runs.flatMap((r) => [...[...r.ours].map(([f, s]) => [`${r.model.name}/${f}`, s.probes ?? []]), ...(r.peer ? [[`${r.model.name}/peer_f32`, r.peer.probes ?? []]] : [])])),
      cells,
      bandwidth_fraction_b1: summary.bandwidth_fraction_b1,
      bandwidth_fraction_b1_vs_copy: summary.bandwidth_fraction_b1_vs_copy,
      rss_over_weight_bytes: summary.rss_over_weight_bytes,
      rss_over_weight_bytes_at: summary.rss_over_weight_bytes_at,
      steering_overhead: summary.steering_overhead,
      steering_overhead_at: summary.steering_overhead_at,
      steering_overhead_by_batch: summary.steering_overhead_by_batch,
      gemm_fraction_decode_max_batch: summary.gemm_fraction_decode_max_batch,
      skipped,
      detail: summary.detail,
    };
    mkdirSync(path.dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n');
    return { cells, summary, loadEnd };
  }

  machine = await measureMachine(args.threads, torchMachine);
  machine.loadavgStart = loadStart;
  const { cells, summary, loadEnd } = emit(false);

  const header = [
    `## npm run bench — ${started.toISOString()} — ${machine.cpus}× ${machine.cpuModel}, ${args.threads} threads, provider ${args.provider}, load avg ${loadStart[0]} → ${loadEnd[0]}`,
    `plan ${plan.name}; at the end: read bandwidth ${machine.bandwidthGBs.used} GB/s (copy ${machine.bandwidthGBs.nodeCopy}), GEMM peak ${machine.gemmGflops.used} GFLOP/s (the fractions use the figures probed next to their cells: \`probes\`); ` +
      `peer: ${peerSkipped ? `skipped (${peerSkipped})` : `PyTorch ${torchVersion} eager f32 on ${python} (Python ${pythonVersion}), ${runs.map((r) => `${r.model.name}: intra-op ${r.peer?.settings.intraOpThreads}, BLAS ${r.peer?.settings.blasThreads}${peerSearch[r.model.name] ? ' (searched)' : ' (given, not searched)'}`).join('; ')}`}`,
    `median of ${plan.reps} (ours' generation: ${plan.steerPairs} interleaved plain/steered pairs, ABBA, per batch); generation: prompt ${plan.promptTokens} tokens, ${plan.newTokensByBatch ? plan.batches.map((b) => `${newTokensAt(plan, b)} new tokens at batch ${b}`).join(', ') : `${plan.newTokens} new tokens`} (EOS disabled), ` +
      `steering at the middle layer, response positions; gen/steered-gen: whole-generation tok/s; decode-b1: 1 / median decode step; ratio = ours / peer` +
      `${Object.keys(plan.formatScope ?? {}).length ? `; ${Object.entries(plan.formatScope!).map(([f, sc]) => `${f} runs batches ${sc.batches.join(', ')} and ${sc.workloads.join(', ')} only`).join('; ')}` : ''}`,
  ];
  process.stdout.write(markdown(cells, summary, skipped, header) + '\n');
  log(`wrote ${path.relative(ROOT, args.out)}`);
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  main().catch((e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
