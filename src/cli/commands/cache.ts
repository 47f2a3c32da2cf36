/**
 * `persona-lab cache list|prune`: the compile cache's entries, sizes and staleness, and removing the stale and
 * unused ones (src/engine/model/cache-admin.ts does the work; the editor's Clean Compile Cache calls the same).
 */
import os from 'node:os';
import path from 'node:path';
import { UsageError, type CliCommand, type CliContext } from '../command.js';
import { EXIT, flag, printJson, str } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { currentSessionTags, onnxruntimeVersion } from '../../engine/model/cache-session-tags.js';
import { defaultCacheDir, formatBytes, listCompileCache, parseDuration, parseSize, pruneCompileCacheEntries, type CacheEntry, type PruneItem } from '../../engine/model/cache-admin.js';

const cacheDir = (ctx: CliContext): string => {
  if (ctx.args.length) throw new UsageError(`unexpected argument "${ctx.args[0]}" (options only; the folder is --cache-dir)`);
  return path.resolve(str(ctx, 'cache-dir') ?? defaultCacheDir());
};

const when = (iso: string) => iso.slice(0, 16).replace('T', ' ');
/** The model folder as short as it reads unambiguously: relative to the current folder when inside it, else with ~ for home. */
const modelName = (m?: string): string => {
  if (!m) return '?';
  const rel = path.relative(process.cwd(), m);
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel;
  const home = os.homedir();
  return m.startsWith(home + path.sep) ? `~${m.slice(home.length)}` : m;
};

function entryState(e: CacheEntry, ortVersion: string): string {
  if (e.stale && e.inUse) return `stale: ${e.stale}; in use: ${e.inUse}`;
  if (e.stale) return `stale: ${e.stale}`;
  if (e.inUse) return `in use: ${e.inUse}`;
  const other = e.sessions.filter((s) => s.current === false);
  if (e.newer) return `current for a newer install: ${e.newer}`;
  const mine = e.sessions.some((s) => s.current) ? `, saved session (onnxruntime ${ortVersion})` : '';
  return other.length ? `current${mine}; ${other.length} saved session(s) of another onnxruntime build or CPU` : `current${mine}`;
}

export const cacheList: CliCommand = {
  name: 'cache list',
  summary: 'The compile cache\'s entries: model, weight format, size on disk, last use, stale or current',
  options: JOBS['cache-list'],
  usage: `persona-lab cache list [--cache-dir D] [--json]
  One compiled graph per model × weight format × variant × compiler version. SIZE is bytes on disk; SHARED the part
  hard-linked with the model folder (freed only by deleting the model); FREES what deleting the entry frees.
  Stale entries can never be used again: prune them with \`persona-lab cache prune\`.`,
  async run(ctx) {
    const root = cacheDir(ctx);
    const l = await listCompileCache(root, { sessionTags: currentSessionTags() });
    if (ctx.json) { printJson(ctx, l); return EXIT.ok; }
    if (!l.exists) { ctx.stdout(`no compile cache at ${root} (nothing compiled there yet)`); return EXIT.ok; }
    const stale = l.entries.filter((e) => e.stale);
    ctx.stdout(`compile cache ${root}: ${l.entries.length} entr${l.entries.length === 1 ? 'y' : 'ies'}, ${formatBytes(l.totalBytes)} on disk, ` +
      `${formatBytes(l.sharedBytes)} of it hard-linked with model folders (current: ${l.compiler}, graph revision ${l.graphRevision})`);
    if (l.entries.length) {
      const rows = l.entries.map((e) => [e.name.slice(0, 12), e.kind === 'partial' ? 'partial' : `${e.format ?? '?'}/${e.variant ?? '?'}`, modelName(e.model),
        formatBytes(e.bytes), formatBytes(e.sharedBytes), formatBytes(e.freeBytes), when(e.lastUsed), entryState(e, onnxruntimeVersion())]);
      const head = ['KEY', 'FORMAT', 'MODEL', 'SIZE', 'SHARED', 'FREES', 'LAST USED', 'STATE'];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const r of [head, ...rows]) ctx.stdout(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  '));
    }
    if (stale.length) ctx.stdout(`${stale.length} stale: \`persona-lab cache prune${str(ctx, 'cache-dir') ? ` --cache-dir ${root}` : ''}\` lists what it would free`);
    return EXIT.ok;
  },
};

function itemLines(items: PruneItem[]): string[] {
  const rows = items.map((i) => [i.entry.slice(0, 12), i.what === 'session' ? `session ${path.basename(i.path)}` : i.what === 'partial' ? 'partial' : (i.format ?? '?'),
    modelName(i.model), formatBytes(i.bytes), i.why]);
  const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => `  ${r.map((c, i) => (i < 4 ? c.padEnd(w[i]) : c)).join('  ')}`);
}

export const cachePrune: CliCommand = {
  name: 'cache prune',
  summary: 'Remove stale compile-cache entries, and optionally unused or over-budget ones (a dry run without --yes)',
  options: JOBS['cache-prune'],
  usage: `persona-lab cache prune [--stale] [--older-than 30d] [--max-size 50GB] [--yes] [--cache-dir D] [--json]
  Without --yes nothing is deleted: it lists what would be removed and how much that frees.
  --stale (the default when no other criterion is given): entries of an older compiler version or graph revision,
  entries whose model files were deleted or changed, damaged entries and leftovers, saved sessions of another
  onnxruntime build. --older-than: entries not used for that long. --max-size: the least recently used entries until
  the cache (not counting bytes shared with model folders) fits. An entry in use (being compiled or loaded, open
  by a process, or used in the last 5 minutes) is never removed.`,
  async run(ctx) {
    const root = cacheDir(ctx);
    const olderThan = str(ctx, 'older-than'), maxSize = str(ctx, 'max-size');
    const stale = flag(ctx, 'stale') || (olderThan === undefined && maxSize === undefined);
    const dryRun = !flag(ctx, 'yes');
    const r = await pruneCompileCacheEntries(root, {
      stale, dryRun, sessionTags: currentSessionTags(), olderThanMs: olderThan === undefined ? undefined : parseDuration(olderThan), maxBytes: maxSize === undefined ? undefined : parseSize(maxSize),
    });
    if (ctx.json) printJson(ctx, r);
    else {
      const n = r.removed.length;
      if (!n) ctx.stdout(`nothing to remove in ${root} (${formatBytes(r.bytesBefore)} on disk)`);
      else {
        ctx.stdout(`${dryRun ? 'would remove' : 'removed'} ${n} item${n === 1 ? '' : 's'} from ${root}, freeing ${formatBytes(r.freedBytes)} (${formatBytes(r.bytesBefore)} → ${formatBytes(r.bytesAfter)} on disk):`);
        for (const line of itemLines(r.removed)) ctx.stdout(line);
      }
      for (const k of r.kept) ctx.stdout(`  kept ${k.entry.slice(0, 12)} (${k.why}): in use, ${k.inUse}`);
      for (const f of r.failed) ctx.stderr(`could not remove ${f.path}: ${f.message}`);
      if (dryRun && n) ctx.stdout('dry run: nothing deleted. Add --yes to delete.');
    }
    return r.failed.length ? EXIT.failure : EXIT.ok;
  },
};

export const cacheCommands: CliCommand[] = [cacheList, cachePrune];
