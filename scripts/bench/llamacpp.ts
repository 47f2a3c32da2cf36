/**
 * Optional second peer: llama.cpp through node-llama-cpp's prebuilt CPU binaries from npm, installed on demand
 * into .cache/bench/llama-cpp (never a project dependency; NODE_LLAMA_CPP_SKIP_DOWNLOAD=true, build: "never").
 * Runs unsteered batch-1 decode on the bench's own weights written as GGUF (gguf.ts): F32, Q8_0 and Q4_0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import type { BenchModel } from './models.js';
import { ensureGguf, type GgufType } from './gguf.js';
import { makePrompts, median } from './workloads.js';

export const LLAMA_CPP_VERSION = '3.22.1';

/** Installs node-llama-cpp + its linux/darwin/win CPU binary package for this platform into `dir`; returns the module entry. */
export function ensureNodeLlamaCpp(dir: string, log: (m: string) => void): string {
  const entry = path.join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  const platformPkg = `@node-llama-cpp/${process.platform === 'win32' ? 'win' : process.platform === 'darwin' ? 'mac' : 'linux'}-${process.arch}`;
  if (existsSync(entry) && existsSync(path.join(dir, 'node_modules', ...platformPkg.split('/')))) return entry;
  mkdirSync(dir, { recursive: true });
  if (!existsSync(path.join(dir, 'package.json'))) writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench-llama-cpp', private: true }));
  log(`installing node-llama-cpp@${LLAMA_CPP_VERSION} + ${platformPkg} into ${dir} (once)…`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=optional', `node-llama-cpp@${LLAMA_CPP_VERSION}`, `${platformPkg}@${LLAMA_CPP_VERSION}`], {
    cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
  });
  if (r.status !== 0 || !existsSync(entry)) throw new Error(`npm install node-llama-cpp failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' ')}`);
  return entry;
}

/** decode_b1_tok_s: 1 / the median interval between consecutive tokens (each decode step timed on its own), over every rep. */
export interface LlamaCppResult { type: GgufType; threads: number; decode_b1_tok_s: number; gen_b1_tok_s: number; median_step_ms: number; steps: number; file_bytes?: number; times_s: number[]; loadavg: number[]; wall_s: number }

interface LlamaSequence { evaluate(tokens: number[], opts?: Record<string, unknown>): AsyncGenerator<number>; clearHistory(): Promise<void> }
interface LlamaModule {
  getLlama(o: Record<string, unknown>): Promise<{ loadModel(o: Record<string, unknown>): Promise<{ createContext(o: Record<string, unknown>): Promise<{ getSequence(): LlamaSequence; dispose(): Promise<void> }>; dispose(): Promise<void> }>; dispose(): Promise<void> }>;
}

/** Batch-1 greedy decode of `newTokens` tokens after a `prompt`-token prefill, per GGUF type and thread count. */
export async function runLlamaCpp(entry: string, ggufDir: string, m: BenchModel, types: GgufType[], threadCounts: number[], promptTokens: number, newTokens: number, reps: number, log: (m: string) => void): Promise<LlamaCppResult[]> {
  const mod = (await import(pathToFileURL(entry).href)) as LlamaModule;
  const llama = await mod.getLlama({ build: 'never', gpu: false, logLevel: 'error', progressLogs: false });
  const out: LlamaCppResult[] = [];
  try {
    for (const type of types) {
      const file = ensureGguf(m.dir, type, ggufDir, log);
      const model = await llama.loadModel({ modelPath: file, gpuLayers: 0, useMmap: true });
      try {
        for (const threads of threadCounts) {
          const ctx = await model.createContext({ contextSize: Math.max(256, promptTokens + newTokens + 8), threads, batchSize: 512, sequences: 1 });
          try {
            const seq = ctx.getSequence();
            const prompt = makePrompts(1, promptTokens, m.vocab)[0];
            const once = async () => {
              await seq.clearHistory();
              let n = 0, tPrev = 0;
              const steps: number[] = [];
              const t0 = performance.now();
              // greedy; EOS cannot end it (we stop after newTokens ourselves)
              for await (const _tok of seq.evaluate(prompt, { temperature: 0 })) {
                n++;
                const t = performance.now();
                if (n > 1) steps.push((t - tPrev) / 1000);
                tPrev = t;
                if (n >= newTokens) break;
              }
              const t1 = performance.now();
              return { total: (t1 - t0) / 1000, steps };
            };
            const w0 = performance.now();
            await once();
            const runs: { total: number; steps: number[] }[] = [];
            for (let i = 0; i < reps; i++) runs.push(await once());
            const total = median(runs.map((x) => x.total)), step = median(runs.flatMap((x) => x.steps));
            const res = {
              type, threads, decode_b1_tok_s: +(1 / step).toFixed(2), gen_b1_tok_s: +(newTokens / total).toFixed(2), median_step_ms: +(step * 1000).toFixed(2),
              steps: runs.reduce((a, x) => a + x.steps.length, 0), times_s: runs.map((x) => +x.total.toFixed(4)), loadavg: os.loadavg().map((x) => +x.toFixed(2)), wall_s: +((performance.now() - w0) / 1000).toFixed(2),
            };
            out.push(res);
            log(`    llama.cpp ${type} ${threads} thread(s): decode ${res.decode_b1_tok_s} tok/s`);
          } finally {
            await ctx.dispose();
          }
        }
      } finally {
        await model.dispose();
      }
    }
  } finally {
    await llama.dispose();
  }
  return out;
}
