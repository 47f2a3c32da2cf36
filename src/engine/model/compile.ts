/**
 * Checkpoint → .onnx in the compile cache.
 *
 * Cache key = sha256(compiler version, graph variant, config.json, identity of every weight
 * file (realpath, size, mtime, inode, device)). A hit skips graph building entirely.
 *
 * Layout (why hard links): onnxruntime only accepts external-data locations that are relative
 * and stay inside the .onnx file's folder *after resolving symlinks*; HF cache snapshots are
 * symlinks into ../../blobs, and we must never copy weights. So each cache entry holds
 *
 *   <cacheDir>/<key>/model.onnx
 *   <cacheDir>/<key>/weights/<i>-<file name>   hard link to the real weight file
 *   <cacheDir>/<key>/meta.json                 what the key was computed from
 *
 * Hard links only work on the same filesystem (and, with fs.protected_hardlinks, on files we own or
 * may write); then a reflink clone is tried, and otherwise the graph is written next to the weights
 * (in the directory that contains all real weight files) as `.persona-lab-<key>.onnx`.
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
import type { Checkpoint, WeightFile } from './checkpoint.js';
import type { ArchConfig } from './config.js';
import { CompileError } from './errors.js';
import type { GraphVariant } from './types.js';

/** Bump when the emitted graph changes for the same inputs (invalidates every cache entry). */
export const COMPILER_VERSION = 'persona-lab-compiler/2';

export function defaultCacheDir(): string {
  return process.env.PERSONA_LAB_CACHE || path.join(os.homedir(), '.cache', 'persona-lab', 'graphs');
}

export interface CompiledGraph {
  onnxPath: string;
  key: string;
  cacheHit: boolean;
  compileMs: number;
}

export function cacheKey(ckpt: Checkpoint, variant: GraphVariant): { key: string; material: unknown } {
  const material = {
    compiler: COMPILER_VERSION,
    variant,
    config: ckpt.rawConfig,
    files: ckpt.files.map((f) => ({ name: path.basename(f.path), real: f.realPath, size: f.size, mtimeMs: f.mtimeMs, ino: f.ino, dev: f.dev })),
  };
  const key = crypto.createHash('sha256').update(JSON.stringify(material)).digest('hex').slice(0, 32);
  return { key, material };
}

/** Build the ONNX bytes for a checkpoint; `locate` gives each weight file's relative location. */
export function buildGraph(family: ArchitectureFamily, cfg: ArchConfig, ckpt: Checkpoint, variant: GraphVariant, locate: (f: WeightFile) => string): Uint8Array {
  const g = new Graph(`${cfg.architecture} (${variant})`);
  const weights = new WeightStore(g, ckpt.tensors, locate);
  const m = new ModelBuilder(g, cfg, variant, weights);
  family.build(m);
  return g.encode({ ...m.opsets, producer: COMPILER_VERSION, docString: `${cfg.architecture} compiled by Persona Lab (${variant})` });
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

export function compileToCache(family: ArchitectureFamily, cfg: ArchConfig, ckpt: Checkpoint, variant: GraphVariant, cacheDir = defaultCacheDir()): CompiledGraph {
  const t0 = performance.now();
  const { key, material } = cacheKey(ckpt, variant);
  const dir = path.join(cacheDir, key);
  if (entryIsValid(dir, ckpt.files)) return { onnxPath: path.join(dir, 'model.onnx'), key, cacheHit: true, compileMs: performance.now() - t0 };
  const sideBySide = path.join(commonDir(ckpt.files.map((f) => f.realPath)), `.persona-lab-${key}.onnx`);
  if (fs.existsSync(sideBySide)) return { onnxPath: sideBySide, key, cacheHit: true, compileMs: performance.now() - t0 };

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
      return compileBesideWeights(family, cfg, ckpt, variant, sideBySide, key, t0);
    }
    const indexOf = new Map(ckpt.files.map((f, i) => [f, i]));
    const bytes = buildGraph(family, cfg, ckpt, variant, (f) => linkName(indexOf.get(f)!, f));
    fs.writeFileSync(path.join(tmp, 'model.onnx'), bytes);
    fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify({ key, material, modelDir: ckpt.modelDir, createdAt: new Date().toISOString() }, null, 2));
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
  return { onnxPath: path.join(dir, 'model.onnx'), key, cacheHit: false, compileMs: performance.now() - t0 };
}

function compileBesideWeights(family: ArchitectureFamily, cfg: ArchConfig, ckpt: Checkpoint, variant: GraphVariant, onnxPath: string, key: string, t0: number): CompiledGraph {
  const dir = path.dirname(onnxPath);
  const bytes = buildGraph(family, cfg, ckpt, variant, (f) => path.relative(dir, f.realPath).split(path.sep).join('/'));
  const tmp = `${onnxPath}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, onnxPath);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CompileError('cache',
      `the compile cache is on another filesystem than the weights (hard links impossible) and ${dir} is not writable (${(e as Error).message}). Set PERSONA_LAB_CACHE (or LoadOptions.cacheDir) to a folder on the same filesystem as the model.`);
  }
  return { onnxPath, key, cacheHit: false, compileMs: performance.now() - t0 };
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
