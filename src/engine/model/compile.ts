/**
 * Checkpoint → .onnx in the compile cache.
 *
 * Cache key = sha256(compiler version, graph variant, weight format + quantization parameters,
 * config.json, identity of every weight file (realpath, size, mtime, inode, device)). A hit skips
 * graph building (and quantizing) entirely.
 *
 * Layout (why hard links): onnxruntime only accepts external-data locations that are relative
 * and stay inside the .onnx file's folder *after resolving symlinks*; HF cache snapshots are
 * symlinks into ../../blobs, and we must never copy weights. So each cache entry holds
 *
 *   <cacheDir>/<key>/model.onnx
 *   <cacheDir>/<key>/weights/<i>-<file name>   hard link to the real weight file
 *   <cacheDir>/<key>/quant.bin                 int8/int4 only: the quantized weights (MatMulNBits layout)
 *   <cacheDir>/<key>/meta.json                 what the key was computed from, resident weight bytes
 *
 * Hard links only work on the same filesystem (and, with fs.protected_hardlinks, on files we own or
 * may write); then a reflink clone is tried, and otherwise the graph is written next to the weights
 * (in the directory that contains all real weight files) as `.persona-lab-<key>.onnx` — except for
 * quantized formats, whose data never goes into the user's model folder (an error says where to put the cache).
 * Such a graph is recorded in the cache root (cache-stamp.ts markGraphBesideWeights) so `cache list` shows it.
 * Entries whose source weights were deleted are pruned on the next cache miss.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Graph } from '../onnx/graph.js';
import { ModelBuilder } from '../arch/blocks.js';
import type { ArchitectureFamily } from '../arch/types.js';
import { WeightStore } from '../arch/weight-store.js';
import { ExternalDataWriter } from '../quant/data-file.js';
import { DEFAULT_QUANT, validateQuantParams, type QuantParams } from '../quant/nbits.js';
import type { Checkpoint, WeightFile } from './checkpoint.js';
import type { ArchConfig } from './config.js';
import { CompileError } from './errors.js';
import { markCacheEntryUsed, markGraphBesideWeights } from './cache-stamp.js';
import type { GraphVariant, WeightFormat } from './types.js';

/**
 * Bump when the emitted graph can compute different outputs for the same inputs (invalidates every cache entry,
 * and is part of every run's identity in core, so runs made before do not resume).
 */
export const COMPILER_VERSION = 'persona-lab-compiler/4';
/**
 * Bump when the emitted graph changes but its outputs stay bit-identical: only the graph cache is invalidated,
 * run identities are kept. 2: graph outputs renamed in place instead of Identity copies; 3: the graph returns
 * only each forward's new keys and values, not the whole present cache (DESIGN.md).
 */
export const GRAPH_REVISION = 3;

/** The weight format plus, for int8/int4, the quantization parameters (part of the cache key). */
export interface FormatSpec {
  format: WeightFormat;
  quant?: QuantParams;
}

/** Resolve a weight format and optional parameter overrides to the full spec the compiler keys on. */
export function formatSpec(format: WeightFormat = 'f32', overrides: Partial<QuantParams> = {}): FormatSpec {
  if (format !== 'int8' && format !== 'int4') return { format };
  const quant = { ...DEFAULT_QUANT[format], ...overrides, bits: DEFAULT_QUANT[format].bits };
  validateQuantParams(quant);
  return { format, quant };
}

const isQuantized = (f: FormatSpec) => f.format === 'int8' || f.format === 'int4';
const QUANT_FILE = 'quant.bin';

export function defaultCacheDir(): string {
  return process.env.PERSONA_LAB_CACHE || path.join(os.homedir(), '.cache', 'persona-lab', 'graphs');
}

export interface CompiledGraph {
  onnxPath: string;
  key: string;
  cacheHit: boolean;
  compileMs: number;
  /** Bytes the graph's weights occupy at run time in the compiled format (see WeightStore.residentBytes). */
  residentWeightBytes: number;
  /** The graph lies beside the user's weights (no cache entry folder): nothing else may be written there. */
  besideWeights?: boolean;
}

export function cacheKey(ckpt: Checkpoint, variant: GraphVariant, fmt: FormatSpec = { format: 'f32' }): { key: string; material: unknown } {
  const material = {
    compiler: COMPILER_VERSION,
    graph: GRAPH_REVISION,
    variant,
    // f32 keeps the pre-format key material shape (no extra field) so only the compiler version decides.
    ...(fmt.format === 'f32' ? {} : { format: fmt.format, quant: fmt.quant ?? null }),
    config: ckpt.rawConfig,
    files: ckpt.files.map((f) => ({ name: path.basename(f.path), real: f.realPath, size: f.size, mtimeMs: f.mtimeMs, ino: f.ino, dev: f.dev })),
  };
  const key = crypto.createHash('sha256').update(JSON.stringify(material)).digest('hex').slice(0, 32);
  return { key, material };
}

/**
 * Build the ONNX bytes for a checkpoint; `locate` gives each weight file's relative location.
 * Quantized formats need `quantDir`: the folder (next to the .onnx) that receives quant.bin.
 */
export function buildGraph(family: ArchitectureFamily, cfg: ArchConfig, ckpt: Checkpoint, variant: GraphVariant, locate: (f: WeightFile) => string,
  fmt: FormatSpec = { format: 'f32' }, quantDir?: string): { bytes: Uint8Array; residentWeightBytes: number } {
  const g = new Graph(`${cfg.architecture} (${variant}, ${fmt.format})`);
  let sink: ExternalDataWriter | undefined;
  if (isQuantized(fmt)) {
    if (!quantDir) throw new Error(`buildGraph: weight format ${fmt.format} needs a folder for ${QUANT_FILE}`);
    sink = new ExternalDataWriter(path.join(quantDir, QUANT_FILE), QUANT_FILE);
  }
  try {
    const weights = new WeightStore(g, ckpt.tensors, locate, { format: fmt.format, quant: sink && fmt.quant ? { params: fmt.quant, sink } : undefined });
    const m = new ModelBuilder(g, cfg, variant, weights);
    family.build(m);
    const bytes = g.encode({ ...m.opsets, producer: COMPILER_VERSION, docString: `${cfg.architecture} compiled by Persona Lab (${variant}, ${fmt.format})` });
    return { bytes, residentWeightBytes: weights.residentBytes };
  } finally {
    sink?.close();
  }
}

/**
 * Hard link, else a copy-on-write clone (btrfs/xfs reflink: shares blocks, no data copy);
 * false when neither is possible (other filesystem, or protected_hardlinks on a file we don't own).
 */
function linkOrClone(src: string, dst: string): boolean {
  try {
    fs.linkSync(src, dst);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EACCES'].includes(code ?? '')) throw e;
  }
  try {
    fs.copyFileSync(src, dst, fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    fs.rmSync(dst, { force: true });
    return false;
  }
}

/**
 * Remove cache entries whose source weight files are gone, replaced or modified: such entries can
 * never be hit again, and their hard links would keep a deleted checkpoint's bytes on disk.
 * Called on every cache miss.
 */
export function pruneCompileCache(cacheDir: string): string[] {
  const removed: string[] = [];
  if (!fs.existsSync(cacheDir)) return removed;
  for (const entry of fs.readdirSync(cacheDir)) {
    const dir = path.join(cacheDir, entry);
    if (entry.includes('.tmp-') || !fs.existsSync(path.join(dir, 'meta.json'))) continue;
    try {
      const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { material: { files: { real: string; ino: number; size: number; mtimeMs: number }[] } };
      const orphaned = meta.material.files.some((f) => {
        try {
          const st = fs.statSync(f.real);
          // Replaced or modified since compiled: the key can never match again.
          return st.ino !== f.ino || st.size !== f.size || st.mtimeMs !== f.mtimeMs;
        } catch {
          return true;
        }
      });
      if (orphaned) {
        fs.rmSync(dir, { recursive: true, force: true });
        removed.push(entry);
      }
    } catch {
      // An entry being written or removed concurrently, or not ours: leave it.
    }
  }
  return removed;
}

function linkName(i: number, f: WeightFile): string {
  return `weights/${i}-${path.basename(f.path)}`;
}

function entryIsValid(dir: string, files: WeightFile[]): boolean {
  if (!fs.existsSync(path.join(dir, 'model.onnx'))) return false;
  return files.every((f, i) => {
    try {
      return fs.statSync(path.join(dir, linkName(i, f))).ino === f.ino;
    } catch {
      return false;
    }
  });
}

function residentFromMeta(dir: string, fallback: number): number {
  try {
    const v = (JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { residentWeightBytes?: number }).residentWeightBytes;
    return typeof v === 'number' ? v : fallback;
  } catch {
    return fallback;
  }
}

export function compileToCache(family: ArchitectureFamily, cfg: ArchConfig, ckpt: Checkpoint, variant: GraphVariant, cacheDir = defaultCacheDir(), fmt: FormatSpec = { format: 'f32' }): CompiledGraph {
  const t0 = performance.now();
  const { key, material } = cacheKey(ckpt, variant, fmt);
  const dir = path.join(cacheDir, key);
  if (entryIsValid(dir, ckpt.files) && (!isQuantized(fmt) || fs.existsSync(path.join(dir, QUANT_FILE)))) {
    markCacheEntryUsed(dir); // last-used stamp for `persona-lab cache prune --older-than` (cache-admin.ts)
    return { onnxPath: path.join(dir, 'model.onnx'), key, cacheHit: true, compileMs: performance.now() - t0, residentWeightBytes: residentFromMeta(dir, ckpt.weightBytes) };
  }
  const sideBySide = path.join(commonDir(ckpt.files.map((f) => f.realPath)), `.persona-lab-${key}.onnx`);
  if (!isQuantized(fmt) && fs.existsSync(sideBySide)) {
    markGraphBesideWeights(cacheDir, sideBySide, { key, material, modelDir: ckpt.modelDir }); // so `cache list` finds it (cache-stamp.ts)
    return { onnxPath: sideBySide, key, cacheHit: true, compileMs: performance.now() - t0, residentWeightBytes: ckpt.weightBytes, besideWeights: true };
  }

  fs.mkdirSync(cacheDir, { recursive: true });
  pruneCompileCache(cacheDir);
  const tmp = fs.mkdtempSync(path.join(cacheDir, `${key}.tmp-`));
  try {
    fs.mkdirSync(path.join(tmp, 'weights'));
    let linked = true;
    for (const [i, f] of ckpt.files.entries()) {
      if (!linkOrClone(f.realPath, path.join(tmp, linkName(i, f)))) {
        linked = false;
        break;
      }
    }
    if (!linked) {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (isQuantized(fmt)) {
        throw new CompileError('cache', `the ${fmt.format} graph must live in the compile cache (quantized weights are never written into the model folder), but ${cacheDir} is on another filesystem than the weights (hard links impossible). Set PERSONA_LAB_CACHE (or LoadOptions.cacheDir) to a folder on the same filesystem as the model.`);
      }
      const beside = compileBesideWeights(family, cfg, ckpt, variant, sideBySide, key, t0);
      markGraphBesideWeights(cacheDir, sideBySide, { key, material, modelDir: ckpt.modelDir });
      return beside;
    }
    const indexOf = new Map(ckpt.files.map((f, i) => [f, i]));
    const { bytes, residentWeightBytes } = buildGraph(family, cfg, ckpt, variant, (f) => linkName(indexOf.get(f)!, f), fmt, tmp);
    fs.writeFileSync(path.join(tmp, 'model.onnx'), bytes);
    fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify({ key, material, residentWeightBytes, modelDir: ckpt.modelDir, createdAt: new Date().toISOString() }, null, 2));
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // Another process compiled the same entry concurrently, or a stale invalid entry is in the way.
      if (entryIsValid(dir, ckpt.files)) fs.rmSync(tmp, { recursive: true, force: true });
      else {
        fs.rmSync(dir, { recursive: true, force: true });
        try {
          fs.renameSync(tmp, dir);
        } catch {
          throw new CompileError('cache', `could not move the compiled graph into ${dir}: ${(e as Error).message}`);
        }
      }
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { onnxPath: path.join(dir, 'model.onnx'), key, cacheHit: false, compileMs: performance.now() - t0, residentWeightBytes: residentFromMeta(dir, ckpt.weightBytes) };
}

function compileBesideWeights(family: ArchitectureFamily, cfg: ArchConfig, ckpt: Checkpoint, variant: GraphVariant, onnxPath: string, key: string, t0: number): CompiledGraph {
  const dir = path.dirname(onnxPath);
  const { bytes, residentWeightBytes } = buildGraph(family, cfg, ckpt, variant, (f) => path.relative(dir, f.realPath).split(path.sep).join('/'));
  const tmp = `${onnxPath}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, onnxPath);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CompileError('cache',
      `the compile cache is on another filesystem than the weights (hard links impossible) and ${dir} is not writable (${(e as Error).message}). Set PERSONA_LAB_CACHE (or LoadOptions.cacheDir) to a folder on the same filesystem as the model.`);
  }
  return { onnxPath, key, cacheHit: false, compileMs: performance.now() - t0, residentWeightBytes, besideWeights: true };
}

function commonDir(paths: string[]): string {
  const parts = paths.map((p) => path.dirname(p).split(path.sep));
  const first = parts[0];
  let n = first.length;
  for (const p of parts) {
    let i = 0;
    while (i < n && i < p.length && p[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join(path.sep) || path.sep;
}
