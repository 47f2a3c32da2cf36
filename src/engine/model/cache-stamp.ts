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
