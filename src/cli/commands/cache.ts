/**
 * `persona-lab cache list|prune`: the compile cache's entries, sizes and staleness, and removing the stale and
 * unused ones (src/engine/model/cache-admin.ts does the work; the editor's Clean Compile Cache calls the same).
 */
import os from 'node:os';
import path from 'node:path';
import { UsageError, type CliCommand, type CliContext } from '../command.js';
import { EXIT, flag, list, printJson, str } from '../common.js';
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
    const l = await listCompileCache(root, { sessionTags: currentSessionTags(), besideWeights: true });
    if (ctx.json) { printJson(ctx, l); return EXIT.ok; }
    if (!l.exists) { ctx.stdout(`no compile cache at ${root} (nothing compiled there yet)`); return EXIT.ok; }
    const inRoot = l.entries.filter((e) => e.kind !== 'beside'), beside = l.entries.filter((e) => e.kind === 'beside');
    const stale = inRoot.filter((e) => e.stale);
    ctx.stdout(`compile cache ${root}: ${inRoot.length} entr${inRoot.length === 1 ? 'y' : 'ies'}, ${formatBytes(l.totalBytes)} on disk, ` +
      `${formatBytes(l.sharedBytes)} of it hard-linked with model folders (current: ${l.compiler}, graph revision ${l.graphRevision})`);
    if (inRoot.length) {
      const rows = inRoot.map((e) => [e.name.slice(0, 12), e.kind === 'partial' ? 'partial' : `${e.format ?? '?'}/${e.variant ?? '?'}`, modelName(e.model),
        formatBytes(e.bytes), formatBytes(e.sharedBytes), formatBytes(e.freeBytes), when(e.lastUsed), entryState(e, onnxruntimeVersion())]);
      const head = ['KEY', 'FORMAT', 'MODEL', 'SIZE', 'SHARED', 'FREES', 'LAST USED', 'STATE'];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const r of [head, ...rows]) ctx.stdout(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  '));
    }
    if (stale.length) ctx.stdout(`${stale.length} stale: \`persona-lab cache prune${str(ctx, 'cache-dir') ? ` --cache-dir ${root}` : ''}\` lists what it would free`);
    if (beside.length) {
      ctx.stdout(`${beside.length} graph${beside.length === 1 ? '' : 's'} beside model weights (the cache is on another filesystem; not in the totals above; ` +
        'removed only by name: `persona-lab cache prune --entry KEY --yes`):');
      for (const e of beside) ctx.stdout(`  ${e.name.slice(0, 12)}  ${e.format ?? '?'}/${e.variant ?? '?'}  ${formatBytes(e.bytes)}  ${when(e.lastUsed)}  ${e.dir}  ${entryState(e, onnxruntimeVersion())}`);
    }
    return EXIT.ok;
  },
};

/** --entry keys (whole, or a prefix naming one entry) → entry names; an unknown or ambiguous one is a usage error before anything is removed. */
async function entryNames(root: string, keys: readonly string[]): Promise<string[]> {
  const names = [...new Set((await listCompileCache(root, { besideWeights: true })).entries.map((e) => e.name))];
  return keys.map((k) => {
    const hits = names.filter((n) => n === k || (k.length >= 6 && n.startsWith(k)));
    if (hits.length === 1) return hits[0];
    throw new UsageError(hits.length ? `--entry ${k} matches ${hits.length} entries (${hits.map((h) => h.slice(0, 16)).join(', ')}): give more of the key`
      : `--entry ${k}: no such entry in ${root} (\`persona-lab cache list${root === path.resolve(defaultCacheDir()) ? '' : ` --cache-dir ${root}`}\` shows the keys; a prefix needs 6 characters or more)`);
  });
}

function itemLines(items: PruneItem[]): string[] {
  const rows = items.map((i) => [i.entry.slice(0, 12), i.what === 'session' ? `session ${path.basename(i.path)}` : i.what === 'partial' ? 'partial' : i.what === 'beside' ? `${i.format ?? '?'} beside weights` : (i.format ?? '?'),
    modelName(i.model), formatBytes(i.bytes), i.why]);
  const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => `  ${r.map((c, i) => (i < 4 ? c.padEnd(w[i]) : c)).join('  ')}`);
}

export const cachePrune: CliCommand = {
  name: 'cache prune',
  summary: 'Remove stale compile-cache entries, and optionally unused or over-budget ones (a dry run without --yes)',
  options: JOBS['cache-prune'],
  usage: `persona-lab cache prune [--stale] [--older-than 30d] [--max-size 50GB] [--entry KEY[,…]] [--yes] [--cache-dir D] [--json]
  Without --yes nothing is deleted: it lists what would be removed and how much that frees.
  --stale (the default when no other criterion is given): entries of an older compiler version or graph revision,
  entries whose model files were deleted or changed, damaged entries and leftovers, saved sessions of another
  onnxruntime build. --older-than: entries not used for that long. --max-size: the least recently used entries until
  the cache (not counting bytes shared with model folders) fits. An entry in use (being compiled or loaded, open
  by a process, or used in the last 5 minutes) is never removed. --entry: these entries by key (as \`cache list\` shows
  it, or a longer prefix); the only way to remove a graph written beside a model's weights.`,
  async run(ctx) {
    const root = cacheDir(ctx);
    const olderThan = str(ctx, 'older-than'), maxSize = str(ctx, 'max-size'), entries = list(ctx, 'entry');
    const stale = flag(ctx, 'stale') || (olderThan === undefined && maxSize === undefined && entries === undefined);
    const dryRun = !flag(ctx, 'yes');
    const names = entries === undefined ? undefined : await entryNames(root, entries);
    const r = await pruneCompileCacheEntries(root, {
      stale, dryRun, names, besideWeights: true, sessionTags: currentSessionTags(), olderThanMs: olderThan === undefined ? undefined : parseDuration(olderThan), maxBytes: maxSize === undefined ? undefined : parseSize(maxSize),
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
      for (const b of r.besideWeights) ctx.stdout(`  left ${b.entry.slice(0, 12)} beside model weights (removed only by --entry): ${b.path}${b.stale ? ` (stale: ${b.stale})` : ''}`);
      for (const f of r.failed) ctx.stderr(`could not remove ${f.path}: ${f.message}`);
      if (dryRun && n) ctx.stdout('dry run: nothing deleted. Add --yes to delete.');
    }
    return r.failed.length ? EXIT.failure : EXIT.ok;
  },
};

export const cacheCommands: CliCommand[] = [cacheList, cachePrune];
