/**
 * The compile-cache entry's last-used stamp: an empty file whose mtime is the last time a load hit the entry
 * (compile.ts touches it on every hit; cache-admin.ts reads it to prune entries unused for N days, oldest first).
 * Kept apart from cache-admin.ts so the compiler's hit path imports nothing else.
 */
import fs from 'node:fs';
import path from 'node:path';

export const LAST_USED_FILE = 'last-used';

/**
 * A graph compile.ts wrote beside the model's weights (`<weights folder>/.persona-lab-<key>.onnx`: the cache is on
 * another filesystem, hard links impossible) is recorded in the cache root as `<key>` + BESIDE_SUFFIX, a plain file
 * (never a folder: every folder in the root is an entry to older listings) holding meta.json's fields plus
 * `onnxPath`; its mtime is the graph's last use. That is how `cache list` finds these graphs, and `cache prune
 * --entry` removes one (never by a criterion: it lies in the user's model folder).
 */
export const BESIDE_SUFFIX = '.beside-weights.json';
/** The file name compile.ts gives a graph beside the weights. */
export const BESIDE_GRAPH_RE = /^\.persona-lab-([0-9a-f]+)\.onnx$/;

/** Whether a process with this pid runs on this host (EPERM: it does, owned by another user). */
export const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Record (first time) or touch (a hit) a graph beside the weights in `cacheDir`. Never throws. A process that died
 * between writing the record's temporary file and renaming it left `<record>.tmp-<pid>`; the next write of the same
 * record (the next load of that model: the record is missing) removes those of dead processes.
 */
export function markGraphBesideWeights(cacheDir: string, onnxPath: string, meta: { key: string; material: unknown; modelDir: string }): void {
  const file = path.join(cacheDir, `${meta.key}${BESIDE_SUFFIX}`);
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
    return;
  } catch {
    // not recorded yet
  }
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const leftover = `${path.basename(file)}.tmp-`;
    for (const n of fs.readdirSync(cacheDir)) {
      const pid = n.startsWith(leftover) ? Number(n.slice(leftover.length)) : NaN;
      if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) fs.rmSync(path.join(cacheDir, n), { force: true });
    }
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ ...meta, onnxPath, createdAt: now.toISOString() }, null, 2));
    fs.renameSync(tmp, file);
  } catch {
    // read-only cache: the graph works, it just is not listed
  }
}

/** Touch `<entryDir>/last-used` (create it when missing). Never throws: a read-only cache just keeps no stamp. */
export function markCacheEntryUsed(entryDir: string): void {
  const file = path.join(entryDir, LAST_USED_FILE);
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
  } catch {
    try {
      fs.closeSync(fs.openSync(file, 'a'));
    } catch {
      // read-only cache or an entry being removed: nothing to record
    }
  }
}

/**
 * Hold a compile-cache entry for a loaded model's lifetime: keep its meta.json open, so cache-admin.ts's `openUnder`
 * (a file under the entry open or mapped by a live process, Linux /proc) calls it in use and `cache prune` keeps it
 * however long ago it was loaded. Today onnxruntime also keeps parts of the entry mapped (the initializers it does
 * not prepack), but that is its implementation detail, not a promise; this hold is ours. The descriptor goes with
 * the process, so a worker that dies holds nothing. `onnxPath` is the loaded graph; a graph beside the weights is
 * held by keeping itself open. Returns the release (idempotent). Never throws.
 */
export function holdCacheEntry(onnxPath: string): () => void {
  const name = path.basename(onnxPath);
  const beside = BESIDE_GRAPH_RE.test(name);
  if (name !== 'model.onnx' && !beside) return () => {};
  let fd: number | undefined;
  try {
    fd = fs.openSync(beside ? onnxPath : path.join(path.dirname(onnxPath), 'meta.json'), 'r');
  } catch {
    return () => {}; // not a cache entry (no meta.json), or removed meanwhile
  }
  return () => {
    if (fd === undefined) return;
    try { fs.closeSync(fd); } catch { /* already closed */ }
    fd = undefined;
  };
}
