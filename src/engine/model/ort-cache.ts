/**
 * The session cache: onnxruntime's own optimised copy of a compile-cache entry's graph, so a warm load skips
 * what dominated it (issue 16: measured on a 245 M BF16 Llama, 2 threads):
 *
 *   - constant folding of the BF16→F32 `Cast`s (f32 format on a half-precision checkpoint): ≈ 60 % of the CPU time
 *   - prepacking every projection (Gemm, MatMulNBits): the rest
 *
 * The first load of an entry opens the session with `optimizedModelFilePath`, which makes onnxruntime write the
 * optimised graph and its initializers — the folded float32 weights and, with
 * `session.save_external_prepacked_constant_initializers`, the *prepacked* weights — into
 * `<entry>/ort-<tag>/{model.onnx,weights.bin}`. Later loads open that graph with optimisation off: no folding,
 * and the prepacked weights the kernels use are mmapped from `weights.bin`, so they become file-backed page cache
 * (evictable, shared between processes on the same model) instead of private memory. Outputs are bit-identical
 * (tested). Disk: the folded float32 weights and their prepacked copy, ≈ 2 × the float32 bytes. Used for the f32
 * format only (session.ts says why).
 *
 * What a hit does NOT skip (measured, DESIGN.md "Load time"): onnxruntime 1.30 keys a saved prepacked blob by a
 * MurmurHash3 of the packed bytes, so it still packs every weight at load (allocate + zero-fill, transpose-pack
 * from the mapped float32 copy, hash), finds the saved blob by that hash and frees its own copy. The saved copy
 * saves memory, not CPU: a hit costs about one prepacking pass over the weights (1 B f32: 13.6 s CPU, of which
 * most is page faults on fresh packed buffers; 5.0 s with `withHugePageMalloc`). Only
 * `session.disable_prepacking` skips it (0.34 s on 1 B), at 1.23–1.26 × the CPU per decode step and with other
 * summation order (not bit-identical), so it is not used.
 *
 * The tag keys what the saved bytes depend on beyond the entry: onnxruntime's version, the platform, the CPU's
 * instruction-set flags (MLAS picks its packed layouts and kernels by them), the weight memory. A failure to
 * write (disk full, read-only cache) falls back to a plain session and leaves nothing behind; a saved graph that
 * fails to open is removed and rebuilt on the next load.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { pidAlive } from './cache-stamp.js';

/** Bump when what is saved changes (names, session config). */
const SESSION_CACHE_VERSION = 1;
const DATA_FILE = 'weights.bin';

export type SessionCacheState = 'hit' | 'written' | 'off' | 'failed';

function cpuFlags(): string {
  try {
    const m = /^flags\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].split(/\s+/).sort().join(' ');
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

let flagsMemo: string | undefined;

/** The glibc tunable that lets malloc back its large blocks with transparent huge pages (glibc ≥ 2.35). */
// The worker's huge-page malloc setting lives in ./malloc-tunables.ts (no onnxruntime import: the client that
// spawns the worker uses it); re-exported here beside the load-time reasoning it belongs to.
export { HUGEPAGE_MALLOC_TUNABLE, withHugePageMalloc } from './malloc-tunables.js';

/** Folder name of the saved session for this machine, onnxruntime build and weight memory. */
export function sessionCacheTag(weightMemory: 'mapped' | 'prepacked'): string {
  flagsMemo ??= cpuFlags();
  const material = JSON.stringify({ v: SESSION_CACHE_VERSION, ort: ort.env.versions.common, platform: process.platform, arch: process.arch, cpu: flagsMemo, weightMemory });
  return `ort-${crypto.createHash('sha256').update(material).digest('hex').slice(0, 16)}`;
}

/** Remove half-written session folders of processes that died while writing one (same host only: the pid is local). */
function pruneStaleTemps(entryDir: string): void {
  for (const name of fs.readdirSync(entryDir)) {
    const m = /^ort-[0-9a-f]+\.tmp-(\d+)-/.exec(name);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) fs.rmSync(path.join(entryDir, name), { recursive: true, force: true });
  }
}

/**
 * Open `onnxPath` (a compile-cache entry's model.onnx) through its saved optimised copy, writing that copy first
 * when missing. `base` are the session options a plain load would use.
 */
export async function openCachedSession(onnxPath: string, base: ort.InferenceSession.SessionOptions): Promise<{ session: ort.InferenceSession; state: SessionCacheState; writeMs?: number }> {
  const entryDir = path.dirname(onnxPath);
  const weightMemory = base.extra?.session && (base.extra.session as Record<string, string>).disable_prepacking === '1' ? 'mapped' : 'prepacked';
  const dir = path.join(entryDir, sessionCacheTag(weightMemory));
  const saved = path.join(dir, 'model.onnx');
  const openSaved = () => ort.InferenceSession.create(saved, { ...base, graphOptimizationLevel: 'disabled' });
  if (fs.existsSync(saved)) {
    try {
      return { session: await openSaved(), state: 'hit' };
    } catch {
      // Truncated or from an incompatible build despite the tag: rebuild below.
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const t0 = performance.now();
  let tmp: string | undefined;
  try {
    pruneStaleTemps(entryDir);
    tmp = fs.mkdtempSync(path.join(entryDir, `${path.basename(dir)}.tmp-${process.pid}-`));
    const extra = { ...(base.extra ?? {}), session: {
      ...((base.extra?.session as Record<string, string> | undefined) ?? {}),
      optimized_model_external_initializers_file_name: DATA_FILE,
      optimized_model_external_initializers_min_size_in_bytes: '1024',
      save_external_prepacked_constant_initializers: '1',
    } };
    const writer = await ort.InferenceSession.create(onnxPath, { ...base, optimizedModelFilePath: path.join(tmp, 'model.onnx'), extra });
    await writer.release();
    try {
      fs.renameSync(tmp, dir);
    } catch {
      // Another process saved it first: use theirs.
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    tmp = undefined;
    return { session: await openSaved(), state: 'written', writeMs: performance.now() - t0 };
  } catch {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    return { session: await ort.InferenceSession.create(onnxPath, base), state: 'failed' };
  }
}
