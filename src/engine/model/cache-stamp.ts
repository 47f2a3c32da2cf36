/**
 * The compile-cache entry's last-used stamp: an empty file whose mtime is the last time a load hit the entry
 * (compile.ts touches it on every hit; cache-admin.ts reads it to prune entries unused for N days, oldest first).
 * Kept apart from cache-admin.ts so the compiler's hit path imports nothing else.
 */
import fs from 'node:fs';
import path from 'node:path';

export const LAST_USED_FILE = 'last-used';

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
 * the process, so a worker that dies holds nothing. `onnxPath` is the loaded graph: a graph written beside the
 * weights (no entry folder) holds nothing. Returns the release (idempotent). Never throws.
 */
export function holdCacheEntry(onnxPath: string): () => void {
  if (path.basename(onnxPath) !== 'model.onnx') return () => {};
  let fd: number | undefined;
  try {
    fd = fs.openSync(path.join(path.dirname(onnxPath), 'meta.json'), 'r');
  } catch {
    return () => {}; // not a cache entry (no meta.json), or removed meanwhile
  }
  return () => {
    if (fd === undefined) return;
    try { fs.closeSync(fd); } catch { /* already closed */ }
    fd = undefined;
  };
}
