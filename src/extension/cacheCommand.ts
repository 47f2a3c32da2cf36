/**
 * Persona Lab: Clean Compile Cache… — the editor's `persona-lab cache prune`: a multi-select quick pick of the compile
 * cache's entries with their sizes, what prune would remove (stale entries, saved sessions of another onnxruntime
 * build) picked already and every other entry offered least recently used first, then a modal confirmation naming
 * what it frees. The listing and the removal are the engine's (src/engine/model/cache-admin.ts), the folder its
 * default (defaultCacheDir: $PERSONA_LAB_CACHE, else ~/.cache/persona-lab/graphs), so an entry in use is never
 * removed here either. It deletes files, so it is refused in Restricted Mode (commands.ts NEEDS_TRUST). One difference
 * from the CLI: the extension host does not load onnxruntime, so it cannot tell a saved session of another
 * onnxruntime build (a folder inside a current entry) from a current one, and offers only whole entries.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultCacheDir, formatBytes, listCompileCache, pruneCompileCacheEntries, type CacheEntry, type PruneResult } from '../engine/model/cache-admin.js';

/** Scripted callers (tests): the cache folder, the picks (entry names, `<entry>/<ort-tag>`, or 'plan' for prune's own), confirmed. */
export interface CleanCacheArgs {
  cacheDir?: string;
  picks?: readonly string[] | 'plan';
  confirmed?: boolean;
}

interface Item extends vscode.QuickPickItem { name?: string }

const ago = (iso: string) => {
  const h = (Date.now() - Date.parse(iso)) / 3600_000;
  return h < 1 ? `${Math.max(1, Math.round(h * 60))} min ago` : h < 48 ? `${h.toFixed(0)} h ago` : `${(h / 24).toFixed(0)} days ago`;
};

/** A model folder as a short label: the toy's `revisions/<name>` as model@name, an HF snapshot as org/name@commit. */
export function modelLabel(dir: string | undefined, fallback: string): string {
  if (!dir) return fallback;
  const parts = dir.split(/[\\/]/).filter(Boolean);
  const n = parts.length;
  if (n >= 3 && parts[n - 2] === 'revisions') return `${parts[n - 3]}@${parts[n - 1]}`;
  if (n >= 3 && parts[n - 2] === 'snapshots' && parts[n - 3].startsWith('models--')) return `${parts[n - 3].slice(8).replace(/--/g, '/')}@${parts[n - 1].slice(0, 7)}`;
  return parts[n - 1] ?? fallback;
}

const describe = (e: CacheEntry) => `${e.format ?? '?'} · ${e.variant ?? '?'} · frees ${formatBytes(e.freeBytes)} · used ${ago(e.lastUsed)}`;

export async function cleanCompileCache(log: vscode.LogOutputChannel, arg?: CleanCacheArgs): Promise<PruneResult | undefined> {
  const args = arg && typeof arg === 'object' && Object.getPrototypeOf(arg) === Object.prototype ? arg : {};
  const root = path.resolve(args.cacheDir ?? defaultCacheDir());
  const listing = await listCompileCache(root);
  if (!listing.exists || listing.entries.length === 0) {
    void vscode.window.showInformationMessage(`The compile cache is empty (${root}).`);
    return undefined;
  }
  const plan = await pruneCompileCacheEntries(root, { dryRun: true });
  const planned = new Set(plan.removed.map((r) => (r.what === 'session' ? `${r.entry}/${path.basename(r.path)}` : r.entry)));
  let picks: string[];
  if (args.picks) picks = args.picks === 'plan' ? [...planned] : [...args.picks];
  else {
    const items: Item[] = [];
    const why = new Map(plan.removed.map((r) => [r.what === 'session' ? `${r.entry}/${path.basename(r.path)}` : r.entry, r.why]));
    if (planned.size) items.push({ label: 'Stale: never used again by this version', kind: vscode.QuickPickItemKind.Separator });
    for (const r of plan.removed) {
      const name = r.what === 'session' ? `${r.entry}/${path.basename(r.path)}` : r.entry;
      items.push({ name, picked: true, label: `$(trash) ${modelLabel(r.model, r.entry.slice(0, 12))}${r.what === 'session' ? ' (saved session)' : ''}`,
        description: `${r.format ?? r.what} · frees ${formatBytes(r.bytes)}`, detail: `${why.get(name) ?? ''}${r.model ? ` — ${r.model}` : ''}` });
    }
    const others = listing.entries.filter((e) => !planned.has(e.name) && !e.stale && !e.inUse).sort((a, b) => Date.parse(a.lastUsed) - Date.parse(b.lastUsed));
    if (others.length) items.push({ label: 'Current: recompiled on next use (least recently used first)', kind: vscode.QuickPickItemKind.Separator });
    for (const e of others) items.push({ name: e.name, label: modelLabel(e.model, e.name.slice(0, 12)), description: describe(e), detail: `${e.newer ? `${e.newer} — ` : ''}${e.model ?? ''}` });
    const busy = listing.entries.filter((e) => e.inUse);
    const chosen = await vscode.window.showQuickPick(items, {
      canPickMany: true, ignoreFocusOut: true, matchOnDescription: true, matchOnDetail: true,
      title: `Clean Compile Cache: ${formatBytes(listing.totalBytes)} in ${root}${busy.length ? ` (${busy.length} in use, not listed)` : ''}`,
      placeHolder: 'Pick the entries to delete (stale ones are picked already)',
    });
    if (!chosen) return undefined;
    picks = chosen.map((c) => c.name).filter((n): n is string => !!n);
  }
  if (!picks.length) return undefined;
  const sized = await pruneCompileCacheEntries(root, { stale: false, names: picks, dryRun: true });
  if (!sized.removed.length) {
    void vscode.window.showInformationMessage(`Nothing to delete: ${sized.kept.length ? 'the picked entries are in use' : 'the picked entries are gone'}.`);
    return sized;
  }
  if (args.confirmed !== true) {
    const ok = await vscode.window.showWarningMessage(`Delete ${sized.removed.length} compile-cache item(s), freeing ${formatBytes(sized.freedBytes)}?`,
      { modal: true, detail: `From ${root}. A model whose entry is deleted is compiled again on its next load; the model folders are not touched.` }, 'Delete');
    if (ok !== 'Delete') return undefined;
  }
  const done = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Persona Lab: cleaning the compile cache…' },
    () => pruneCompileCacheEntries(root, { stale: false, names: picks }));
  for (const r of done.removed) log.info(`Compile cache: removed ${r.path} (${formatBytes(r.bytes)}; ${r.why})`);
  for (const k of done.kept) log.info(`Compile cache: kept ${k.entry}: in use, ${k.inUse}`);
  if (done.failed.length) throw new Error(`Could not remove ${done.failed.map((f) => `${f.path} (${f.message})`).join(', ')}; freed ${formatBytes(done.freedBytes)} otherwise.`);
  void vscode.window.showInformationMessage(`Compile cache: freed ${formatBytes(done.freedBytes)} (${done.removed.length} item(s) removed${done.kept.length ? `, ${done.kept.length} kept: in use` : ''}).`);
  return done;
}
