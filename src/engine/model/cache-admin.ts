/**
 * Compile-cache administration: list a cache root's entries and prune the stale and unused ones
 * (`persona-lab cache list|prune`, the editor's "Clean Compile Cache…", `npm run bench`'s start).
 *
 * The layout is compile.ts's (one folder per key: model.onnx, meta.json, weights/ hard links to the model's files,
 * quant.bin for int8/int4, ort-<tag>/ the saved onnxruntime session of ort-cache.ts) plus the last-used stamp
 * (cache-stamp.ts). Nothing here changes how entries are written or hit.
 *
 * Sizes are bytes on disk (st_blocks), each inode counted once. A weight file hard-linked from the model folder
 * is *shared*: deleting the entry does not free it; `freeBytes` is what deleting the entry alone would free.
 *
 * Stale: compiled by an older compiler version or graph revision (can never be hit again; a newer one's entries
 * belong to a newer install sharing the cache and are kept), a source weight file
 * gone, replaced or modified (neither), no readable meta.json (damaged), a saved session of another onnxruntime
 * build or CPU (its folder alone), leftovers of a compile or prune that died. Pruning never touches an entry in
 * use: a compile of its key in progress (`<key>.tmp-*`), a session being saved into it (`ort-*.tmp-<pid>-*`, pid
 * alive), a file under it open or mapped by a process (Linux /proc: a worker holds the entry of every model it has
 * loaded open, cache-stamp.ts holdCacheEntry), or a hit / compile in the last
 * IN_USE_GRACE_MS (a load in progress, on systems without /proc). An entry is removed by renaming it out of
 * the way first (a concurrent lookup then misses and recompiles, never sees half an entry), then deleting it.
 *
 * Graphs compile.ts wrote beside a model's weights (the cache on another filesystem) are listed, for a caller that asks
 * (`besideWeights`: the CLI), from their records in the root (cache-stamp.ts markGraphBesideWeights) as kind 'beside',
 * `dir` the graph file. They lie in the user's
 * model folder, so no criterion (--stale, --older-than, --max-size) removes one: only naming it does (`names`), and
 * in-use still wins. A record whose graph was deleted by hand is stale and goes with --stale. They are not counted in
 * the root's byte totals.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ReasonError } from '../errors.js';
import { BESIDE_GRAPH_RE, BESIDE_SUFFIX, LAST_USED_FILE, pidAlive } from './cache-stamp.js';
import { COMPILER_VERSION, defaultCacheDir, GRAPH_REVISION } from './compile.js';

export { defaultCacheDir };

/** A hit or compile this recent may be a load in progress: such an entry is never pruned. */
export const IN_USE_GRACE_MS = 5 * 60_000;
/** A `<key>.tmp-*` compile folder untouched this long, and open by no process, is an abandoned compile. */
export const ABANDONED_TMP_MS = 24 * 3600_000;

export class CacheAdminError extends ReasonError<'usage' | 'missing'> {
  override readonly name = 'CacheAdminError';
}

export interface SessionInfo {
  tag: string;
  bytes: number;
  /** true: this onnxruntime build and CPU use it; false: another; undefined: unknown (onnxruntime not loadable here). */
  current?: boolean;
}

export interface CacheEntry {
  /** Folder name: the cache key, or a leftover's name. */
  name: string;
  dir: string;
  kind: 'entry' | 'partial' | 'beside';
  /** kind 'beside': the record in the cache root that lists the graph (`dir` is the graph file beside the weights). */
  record?: string;
  /** The checkpoint folder it was compiled from (meta.json), else the folder of its first weight file. */
  model?: string;
  format?: string;
  variant?: string;
  compiler?: string;
  graphRevision?: number;
  sessions: SessionInfo[];
  /** Unique bytes on disk under the folder. */
  bytes: number;
  /** Of those, bytes hard-linked with files outside the cache (the model folder's weights): not freed by deleting. */
  sharedBytes: number;
  /** Bytes deleting this entry alone frees. */
  freeBytes: number;
  createdAt?: string;
  /** Last hit (the stamp), else when compiled. ISO. */
  lastUsed: string;
  /** Why it can be pruned as stale; undefined when current. */
  stale?: string;
  /** Why it must not be deleted now; undefined when free. */
  inUse?: string;
  /** Made by a newer Persona Lab sharing this cache (another install): kept by --stale. */
  newer?: string;
}

export interface CacheListing {
  root: string;
  exists: boolean;
  entries: CacheEntry[];
  /** Unique bytes under the root (hard links counted once; graphs beside weights not included). */
  totalBytes: number;
  /** Of those, shared with model folders (freed only by deleting the models). */
  sharedBytes: number;
  compiler: string;
  graphRevision: number;
}

export interface ListOptions {
  /**
   * The saved-session tags this onnxruntime build and CPU use (cache-session-tags.ts: callers that load onnxruntime
   * anyway, the CLI and the bench, pass them); without them no saved session is judged stale.
   */
  sessionTags?: readonly string[] | null;
  now?: number;
  /**
   * Also list the graphs recorded beside model weights (kind 'beside'; the CLI does). Off by default: a caller that
   * does not know them (the editor's Clean Compile Cache, whose confirmation promises model folders untouched) never
   * sees or removes one.
   */
  besideWeights?: boolean;
}

interface FileRec { rel: string; key: string; bytes: number; nlink: number }

const bytesOf = (st: fs.Stats) => (typeof st.blocks === 'number' && st.blocks > 0 ? st.blocks * 512 : st.size);

function walk(dir: string, rel = '', out: FileRec[] = []): FileRec[] {
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = path.join(dir, n);
    let st: fs.Stats;
    try { st = fs.lstatSync(p); } catch { continue; }
    if (st.isDirectory()) walk(p, rel ? `${rel}/${n}` : n, out);
    else out.push({ rel: rel ? `${rel}/${n}` : n, key: `${st.dev}:${st.ino}`, bytes: bytesOf(st), nlink: st.nlink });
  }
  return out;
}

/**
 * Folders under `root` that a live process has open or mapped (Linux /proc; elsewhere an empty map and
 * IN_USE_GRACE_MS alone guards loads). Returns realpath'd folder → "pid N (comm)".
 */
export function openUnder(root: string): Map<string, string> {
  const users = new Map<string, string>();
  let realRoot: string;
  try { realRoot = fs.realpathSync(root); } catch { return users; }
  const prefix = realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep;
  let pids: string[];
  try { pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)); } catch { return users; }
  const note = (file: string, pid: string) => {
    if (!file.startsWith(prefix)) return;
    const top = file.slice(prefix.length).split(path.sep)[0];
    if (!top || users.has(top)) return;
    let comm = '';
    try { comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { /* gone */ }
    users.set(top, `open by pid ${pid}${comm ? ` (${comm})` : ''}`);
  };
  for (const pid of pids) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try { note(fs.readlinkSync(`/proc/${pid}/fd/${fd}`), pid); } catch { /* closed meanwhile */ }
      }
    } catch { /* another user's process, or gone */ }
    try {
      const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
      for (const line of maps.split('\n')) {
        const i = line.indexOf(prefix);
        if (i >= 0) note(line.slice(i).replace(/ \(deleted\)$/, ''), pid);
      }
    } catch { /* another user's process, or gone */ }
  }
  return users;
}

interface Meta {
  material?: { compiler?: string; graph?: number; variant?: string; format?: string; files?: { real: string; ino: number; size: number; mtimeMs: number }[] };
  modelDir?: string;
  createdAt?: string;
}

function sourceProblem(files: NonNullable<NonNullable<Meta['material']>['files']>): string | undefined {
  for (const f of files) {
    let st: fs.Stats;
    try { st = fs.statSync(f.real); } catch { return `source weight file gone: ${f.real}`; }
    if (st.ino !== f.ino || st.size !== f.size || st.mtimeMs !== f.mtimeMs) return `source weight file replaced or modified since compiled: ${f.real}`;
  }
  return undefined;
}

/**
 * The entry's compiler and graph revision against ours: < 0 older (stale: never hit again by any newer install either),
 * > 0 newer (another, newer install uses it), 0 the same. A compiler name that is not ours or has no number is older.
 */
function compareVersion(compiler: string | undefined, graph: number): number {
  const num = (c: string | undefined) => { const m = /^persona-lab-compiler\/(\d+)$/.exec(c ?? ''); return m ? Number(m[1]) : -1; };
  const a = num(compiler), b = num(COMPILER_VERSION);
  if (a !== b) return a < b ? -1 : 1;
  return graph === GRAPH_REVISION ? 0 : graph < GRAPH_REVISION ? -1 : 1;
}

const mtime = (p: string): number | undefined => { try { return fs.statSync(p).mtimeMs; } catch { return undefined; } };

/** A graph beside a model's weights, from its record; undefined for a record being written or not one of ours. */
function besideEntry(record: string, now: number): CacheEntry | undefined {
  let meta: Meta & { key?: string; onnxPath?: string };
  try { meta = JSON.parse(fs.readFileSync(record, 'utf8')) as typeof meta; } catch { return undefined; }
  const key = path.basename(record).slice(0, -BESIDE_SUFFIX.length);
  const onnx = meta.onnxPath;
  // Only ever the graph compile.ts names for this key: a record can never make prune delete another file.
  if (meta.key !== key || typeof onnx !== 'string' || !path.isAbsolute(onnx) || BESIDE_GRAPH_RE.exec(path.basename(onnx))?.[1] !== key) return undefined;
  const mat = meta.material;
  const graph = mat ? (mat.graph ?? 1) : undefined;
  const lastUsedMs = mtime(record) ?? now;
  let st: fs.Stats | undefined;
  try { st = fs.statSync(onnx); } catch { st = undefined; }
  const base = { name: key, dir: onnx, kind: 'beside' as const, record, model: meta.modelDir, format: mat ? (mat.format ?? 'f32') : undefined, variant: mat?.variant,
    compiler: mat?.compiler, graphRevision: graph, sessions: [], sharedBytes: 0, createdAt: meta.createdAt, lastUsed: new Date(lastUsedMs).toISOString() };
  if (!st) return { ...base, bytes: 0, freeBytes: 0, stale: 'the graph beside the weights is gone (deleted by hand): only its record in the cache is left' };
  const order = mat ? compareVersion(mat.compiler, graph!) : 0;
  const stale = !mat ? 'no readable record' : order < 0 ? (mat.compiler !== COMPILER_VERSION ? `compiled by ${mat.compiler ?? 'an unknown compiler'} (now ${COMPILER_VERSION})` : `graph revision ${graph} (now ${GRAPH_REVISION})`)
    : sourceProblem(mat.files ?? []);
  const newer = !stale && order > 0 ? (mat!.compiler !== COMPILER_VERSION ? `from a newer compiler (${mat!.compiler})` : `from a newer graph revision (${graph})`) : undefined;
  const inUse = openUnder(path.dirname(onnx)).get(path.basename(onnx))
    ?? (now - lastUsedMs < IN_USE_GRACE_MS ? `used ${Math.max(0, Math.round((now - lastUsedMs) / 1000))} s ago (may be loading)` : undefined);
  return { ...base, bytes: bytesOf(st), freeBytes: bytesOf(st), ...(stale ? { stale } : {}), ...(newer ? { newer } : {}), ...(inUse ? { inUse } : {}) };
}

/** Every entry and leftover under a compile-cache root, and every graph recorded beside a model's weights, newest use first. */
export async function listCompileCache(rootDir = defaultCacheDir(), opts: ListOptions = {}): Promise<CacheListing> {
  const root = path.resolve(rootDir);
  const now = opts.now ?? Date.now();
  const base = { root, compiler: COMPILER_VERSION, graphRevision: GRAPH_REVISION };
  if (!fs.existsSync(root)) return { ...base, exists: false, entries: [], totalBytes: 0, sharedBytes: 0 };
  if (!fs.statSync(root).isDirectory()) throw new CacheAdminError('usage', `${root} is not a folder: give the compile cache's folder (default ${defaultCacheDir()})`);
  const tags = opts.sessionTags ?? null;
  const names = fs.readdirSync(root).filter((n) => {
    try { return fs.lstatSync(path.join(root, n)).isDirectory(); } catch { return false; }
  });
  const files = new Map(names.map((n) => [n, walk(path.join(root, n))]));
  // Links to each inode found anywhere under the root, and under each folder.
  const linksInRoot = new Map<string, number>();
  for (const recs of files.values()) for (const r of recs) linksInRoot.set(r.key, (linksInRoot.get(r.key) ?? 0) + 1);
  const users = openUnder(root);
  // Keys being compiled: a fresh compile temp folder, or one a process has open (an abandoned one marks nothing).
  const compiling = new Set(names.filter((n) => n.includes('.tmp-') && !n.includes('.tmp-prune-')
    && (users.has(n) || now - (mtime(path.join(root, n)) ?? 0) < ABANDONED_TMP_MS)).map((n) => n.slice(0, n.indexOf('.tmp-'))));

  const entries: CacheEntry[] = [];
  const seenRoot = new Set<string>();
  let totalBytes = 0, sharedTotal = 0;
  for (const name of names) {
    const dir = path.join(root, name);
    const recs = files.get(name)!;
    const linksHere = new Map<string, number>();
    for (const r of recs) linksHere.set(r.key, (linksHere.get(r.key) ?? 0) + 1);
    let bytes = 0, shared = 0, free = 0;
    const seen = new Set<string>();
    for (const r of recs) {
      if (seen.has(r.key)) continue;
      seen.add(r.key);
      bytes += r.bytes;
      const outside = r.nlink > (linksInRoot.get(r.key) ?? 0);
      if (outside) shared += r.bytes;
      if (r.nlink <= (linksHere.get(r.key) ?? 0)) free += r.bytes;
      if (!seenRoot.has(r.key)) { seenRoot.add(r.key); totalBytes += r.bytes; if (outside) sharedTotal += r.bytes; }
    }
    const sessions: SessionInfo[] = [];
    for (const r of recs) {
      const m = /^(ort-[0-9a-f]+)\//.exec(r.rel);
      if (!m) continue;
      let s = sessions.find((x) => x.tag === m[1]);
      if (!s) sessions.push(s = { tag: m[1], bytes: 0, ...(tags ? { current: tags.includes(m[1]) } : {}) });
      s.bytes += r.bytes;
    }
    const stampMs = mtime(path.join(dir, LAST_USED_FILE));
    const dirMs = mtime(dir) ?? now;
    const tmp = name.indexOf('.tmp-');
    if (tmp >= 0) {
      // A compile in progress (<key>.tmp-XXXXXX) or an interrupted prune (<key>.tmp-prune-<pid>).
      const prune = /\.tmp-prune-(\d+)$/.exec(name);
      const newest = Math.max(dirMs, ...recs.map((r) => mtime(path.join(dir, r.rel)) ?? 0));
      const inUse = users.get(name) ?? (prune ? (pidAlive(Number(prune[1])) ? `being deleted by pid ${prune[1]}` : undefined)
        : now - newest < ABANDONED_TMP_MS ? 'a compile in progress (or one that died less than a day ago)' : undefined);
      entries.push({ name, dir, kind: 'partial', sessions, bytes, sharedBytes: shared, freeBytes: free, lastUsed: new Date(newest).toISOString(),
        stale: prune ? 'left over by an interrupted prune' : 'left over by a compile that did not finish', ...(inUse ? { inUse } : {}) });
      continue;
    }
    let meta: Meta | undefined;
    try { meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta; } catch { meta = undefined; }
    const mat = meta?.material;
    const graph = mat ? (mat.graph ?? 1) : undefined;
    let stale: string | undefined, newer: string | undefined;
    const order = mat ? compareVersion(mat.compiler, graph!) : 0;
    if (!mat) stale = 'no readable meta.json (damaged or not a compile-cache entry)';
    else if (order < 0) stale = mat.compiler !== COMPILER_VERSION ? `compiled by ${mat.compiler ?? 'an unknown compiler'} (now ${COMPILER_VERSION})` : `graph revision ${graph} (now ${GRAPH_REVISION})`;
    else stale = sourceProblem(mat.files ?? []);
    // A newer Persona Lab (another install sharing the cache) still uses it: not stale here, only --older-than / --max-size.
    if (!stale && order > 0) newer = mat!.compiler !== COMPILER_VERSION ? `from a newer compiler (${mat!.compiler})` : `from a newer graph revision (${graph})`;
    const createdMs = meta?.createdAt ? Date.parse(meta.createdAt) : NaN;
    const lastUsedMs = stampMs ?? (Number.isFinite(createdMs) ? createdMs : mtime(path.join(dir, 'meta.json')) ?? dirMs);
    const liveSessionWrite = recs.map((r) => /^ort-[0-9a-f]+\.tmp-(\d+)-/.exec(r.rel)?.[1]).find((pid) => pid && pidAlive(Number(pid)));
    const inUse = users.get(name)
      ?? (compiling.has(name) ? 'its key is being compiled' : undefined)
      ?? (liveSessionWrite ? `pid ${liveSessionWrite} is saving a session into it` : undefined)
      ?? (now - lastUsedMs < IN_USE_GRACE_MS ? `used ${Math.max(0, Math.round((now - lastUsedMs) / 1000))} s ago (may be loading)` : undefined);
    const first = mat?.files?.[0]?.real;
    const model = meta?.modelDir && path.isAbsolute(meta.modelDir) ? meta.modelDir : first ? path.dirname(first) : meta?.modelDir;
    entries.push({
      name, dir, kind: 'entry', model, format: mat ? (mat.format ?? 'f32') : undefined, variant: mat?.variant, compiler: mat?.compiler, graphRevision: graph,
      sessions, bytes, sharedBytes: shared, freeBytes: free, createdAt: meta?.createdAt, lastUsed: new Date(lastUsedMs).toISOString(),
      ...(stale ? { stale } : {}), ...(newer ? { newer } : {}), ...(inUse ? { inUse } : {}),
    });
  }
  for (const rec of opts.besideWeights ? fs.readdirSync(root).filter((n) => n.endsWith(BESIDE_SUFFIX)) : []) {
    const e = besideEntry(path.join(root, rec), now);
    if (e) entries.push(e);
  }
  entries.sort((a, b) => Date.parse(b.lastUsed) - Date.parse(a.lastUsed));
  return { ...base, exists: true, entries, totalBytes, sharedBytes: sharedTotal };
}

export interface PruneOptions extends ListOptions {
  /** Remove stale entries and stale session folders (default true). */
  stale?: boolean;
  /** Also remove entries not used for this long. */
  olderThanMs?: number;
  /** Also remove the least recently used entries until the cache's own bytes (not shared with models) fit. */
  maxBytes?: number;
  /** Also these, by folder name, or `<entry>/<ort-tag>` for a saved session (the editor's picks); in use still wins. */
  names?: readonly string[];
  /** Only say what would be removed (default false here; the CLI defaults to a dry run). */
  dryRun?: boolean;
}

export interface PruneItem {
  /** The entry folder, or the session folder inside it. */
  path: string;
  entry: string;
  what: 'entry' | 'partial' | 'session' | 'beside';
  model?: string;
  format?: string;
  why: string;
  /** Bytes this removal frees on its own (hard links elsewhere counted as not freed). */
  bytes: number;
  lastUsed: string;
}

export interface PruneResult {
  root: string;
  dryRun: boolean;
  removed: PruneItem[];
  /** Entries that matched but were kept because they are in use. */
  kept: { entry: string; why: string; inUse: string }[];
  /** Bytes freed (or that would be), each inode counted once over everything removed. */
  freedBytes: number;
  /** Unique bytes under the root before and after (after = before − freed). */
  bytesBefore: number;
  bytesAfter: number;
  failed: { path: string; message: string }[];
  /** Graphs beside model weights left in place because no criterion removes one (not named), with why one is stale. */
  besideWeights: { entry: string; path: string; stale?: string }[];
}

const DAY = 86_400_000;
const ageText = (ms: number) => (ms >= DAY ? `${(ms / DAY).toFixed(ms >= 10 * DAY ? 0 : 1)} d` : `${(ms / 3600_000).toFixed(1)} h`);

/** What prune removes: its plan, then (unless dryRun) the removals. */
export async function pruneCompileCacheEntries(rootDir = defaultCacheDir(), opts: PruneOptions = {}): Promise<PruneResult> {
  const root = path.resolve(rootDir);
  const now = opts.now ?? Date.now();
  const listing = await listCompileCache(root, opts);
  const recs = new Map(listing.entries.map((e) => [e.name, walk(e.dir)]));
  const freedBy = (chosenNow: Set<string>, items: PruneItem[]) => freedBytesOf(recs, chosenNow, items);
  const wantStale = opts.stale ?? true;
  const removed: PruneItem[] = [];
  const kept: PruneResult['kept'] = [];
  const chosen = new Set<string>();
  const pick = (e: CacheEntry, why: string) => {
    if (e.inUse) { kept.push({ entry: e.name, why, inUse: e.inUse }); return; }
    chosen.add(e.name);
    removed.push({ path: e.dir, entry: e.name, what: e.kind, model: e.model, format: e.format, why, bytes: e.freeBytes, lastUsed: e.lastUsed });
  };
  // A graph beside the weights lies in the user's model folder: removed by name only (a gone graph's record by --stale too).
  const namedOnly = (e: CacheEntry) => e.kind === 'beside' && fs.existsSync(e.dir);
  if (wantStale) {
    for (const e of listing.entries) {
      if (e.stale) { if (!namedOnly(e)) pick(e, e.stale); }
      else if (e.kind === 'entry') {
        for (const s of e.sessions) {
          if (s.current !== false) continue;
          const why = 'saved session of another onnxruntime build or CPU';
          if (e.inUse) kept.push({ entry: e.name, why, inUse: e.inUse });
          else removed.push({ path: path.join(e.dir, s.tag), entry: e.name, what: 'session', model: e.model, format: e.format, why, bytes: s.bytes, lastUsed: e.lastUsed });
        }
      }
    }
  }
  for (const n of opts.names ?? []) {
    const [name, tag] = n.split('/');
    const e = listing.entries.find((x) => x.name === name);
    if (!e) continue; // removed meanwhile
    const s = tag ? e.sessions.find((x) => x.tag === tag) : undefined;
    if (tag && s && !removed.some((i) => i.path === path.join(e.dir, tag)) && !chosen.has(name)) {
      if (e.inUse) kept.push({ entry: e.name, why: 'picked', inUse: e.inUse });
      else removed.push({ path: path.join(e.dir, tag), entry: e.name, what: 'session', model: e.model, format: e.format, why: 'picked', bytes: s.bytes, lastUsed: e.lastUsed });
    } else if (!tag && !chosen.has(name)) {
      // A whole entry supersedes a session folder of it already listed.
      for (let i = removed.length - 1; i >= 0; i--) if (removed[i].entry === name && removed[i].what === 'session') removed.splice(i, 1);
      pick(e, e.stale ?? 'picked');
    }
  }
  const current = () => listing.entries.filter((e) => e.kind === 'entry' && !chosen.has(e.name) && !(wantStale && e.stale));
  if (opts.olderThanMs !== undefined) {
    for (const e of current()) {
      const age = now - Date.parse(e.lastUsed);
      if (age > opts.olderThanMs) pick(e, `not used for ${ageText(age)}`);
    }
  }
  if (opts.maxBytes !== undefined) {
    const own = (l: CacheListing) => l.totalBytes - l.sharedBytes;
    let size = own(listing) - freedBy(chosen, removed);
    for (const e of [...current()].sort((a, b) => Date.parse(a.lastUsed) - Date.parse(b.lastUsed))) {
      if (size <= opts.maxBytes) break;
      if (e.inUse) { kept.push({ entry: e.name, why: 'over the size budget', inUse: e.inUse }); continue; }
      const before = freedBy(chosen, removed);
      pick(e, `over the size budget (least recently used, ${ageText(now - Date.parse(e.lastUsed))} ago)`);
      size -= freedBy(chosen, removed) - before;
    }
  }
  const freedBytes = freedBy(chosen, removed) + removed.filter((i) => i.what === 'beside').reduce((a, i) => a + i.bytes, 0);
  const failed: PruneResult['failed'] = [];
  if (!opts.dryRun) {
    for (const item of removed) {
      try {
        if (item.what === 'beside') {
          fs.rmSync(item.path, { force: true });
          fs.rmSync(listing.entries.find((e) => e.name === item.entry && e.kind === 'beside')!.record!, { force: true });
        } else removeFolder(item.path, root);
      } catch (e) { failed.push({ path: item.path, message: (e as Error).message }); }
    }
  }
  const named = new Set((opts.names ?? []).map((n) => n.split('/')[0]));
  const besideWeights = listing.entries.filter((e) => namedOnly(e) && !chosen.has(e.name) && !named.has(e.name)).map((e) => ({ entry: e.name, path: e.dir, ...(e.stale ? { stale: e.stale } : {}) }));
  const keptOnce = kept.filter((k, i) => kept.findIndex((x) => x.entry === k.entry) === i);
  return { root, dryRun: !!opts.dryRun, removed, kept: keptOnce, freedBytes, bytesBefore: listing.totalBytes,
    bytesAfter: listing.totalBytes - freedBy(chosen, removed), failed, besideWeights };
}

/** Bytes freed by removing the chosen entries and session folders together: an inode counts when no link to it survives. */
function freedBytesOf(recs: Map<string, FileRec[]>, chosen: Set<string>, items: PruneItem[]): number {
  const sessionDirs = new Set(items.filter((i) => i.what === 'session').map((i) => `${i.entry}/${path.basename(i.path)}`));
  const links = new Map<string, { nlink: number; gone: number; bytes: number }>();
  for (const [name, files] of recs) {
    for (const r of files) {
      const x = links.get(r.key) ?? { nlink: r.nlink, gone: 0, bytes: r.bytes };
      if (chosen.has(name) || sessionDirs.has(`${name}/${r.rel.split('/')[0]}`)) x.gone++;
      links.set(r.key, x);
    }
  }
  let freed = 0;
  for (const x of links.values()) if (x.gone > 0 && x.gone >= x.nlink) freed += x.bytes;
  return freed;
}

/** Rename aside (atomic: a lookup sees the whole entry or none), then delete. */
function removeFolder(dir: string, root: string): void {
  const inRoot = path.dirname(dir) === root;
  let target = dir;
  if (inRoot && !path.basename(dir).includes('.tmp-')) {
    target = `${dir}.tmp-prune-${process.pid}`;
    fs.renameSync(dir, target);
  }
  fs.rmSync(target, { recursive: true, force: true });
}

// ---------------------------------------------------------------- values on the command line

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/;

/** Why `v` is not a size (the CLI's --max-size check), or undefined. A bare number is refused: bytes or GB? */
export function sizeProblem(v: string): string | undefined {
  const m = SIZE_RE.exec(v);
  if (!m || SIZE_UNITS[m[2].toLowerCase()] === undefined) return `takes a size with a unit, e.g. 50GB, 500MB, 1.5TB or 20GiB (got "${v}")`;
  return undefined;
}

/** "50GB", "500 MB", "1.5TiB" → bytes (decimal KB/MB/GB/TB, binary KiB/MiB/GiB/TiB). */
export function parseSize(v: string): number {
  const problem = sizeProblem(v);
  if (problem) throw new CacheAdminError('usage', `the size ${problem}`);
  const m = SIZE_RE.exec(v)!;
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
}

const DURATION_UNITS: Record<string, number> = { m: 60_000, min: 60_000, h: 3600_000, d: DAY, w: 7 * DAY };

/** Why `v` is not a duration (the CLI's --older-than check), or undefined. A bare number is refused: days or hours? */
export function durationProblem(v: string): string | undefined {
  const m = SIZE_RE.exec(v);
  if (!m || DURATION_UNITS[m[2].toLowerCase()] === undefined) return `takes a duration with a unit, e.g. 30d, 12h, 2w or 90m (got "${v}")`;
  if (Number(m[1]) <= 0) return `must be longer than 0 (got "${v}")`;
  return undefined;
}

/** "30d", "12h", "2w", "90m" → milliseconds. */
export function parseDuration(v: string): number {
  const problem = durationProblem(v);
  if (problem) throw new CacheAdminError('usage', `the duration ${problem}`);
  const m = SIZE_RE.exec(v)!;
  return Number(m[1]) * DURATION_UNITS[m[2].toLowerCase()];
}

/** 1234567890 → "1.23 GB" (decimal units, as --max-size reads them). */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  const [u, d] = n >= 1e12 ? ['TB', 1e12] : n >= 1e9 ? ['GB', 1e9] : n >= 1e6 ? ['MB', 1e6] : ['KB', 1e3];
  return `${(n / (d as number)).toFixed(2)} ${u as string}`;
}
