// Compile-cache administration (src/engine/model/cache-admin.ts) on entries built by a real compile of a parity
// fixture into a temp cache (a graph build, no model load), plus synthetic stale ones made from them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { lookupArchitecture } from '../../src/engine/arch/registry.js';
import { IN_USE_GRACE_MS, listCompileCache, parseDuration, parseSize, pruneCompileCacheEntries, sizeProblem, durationProblem, type CacheListing } from '../../src/engine/model/cache-admin.js';
import { BESIDE_SUFFIX, holdCacheEntry, LAST_USED_FILE, markGraphBesideWeights } from '../../src/engine/model/cache-stamp.js';
import { openCheckpoint } from '../../src/engine/model/checkpoint.js';
import { compileToCache, formatSpec } from '../../src/engine/model/compile.js';
import { normalizeConfig } from '../../src/engine/model/config.js';
import type { WeightFormat } from '../../src/engine/model/types.js';

const fixture = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'parity', 'llama_gqa');
const have = fs.existsSync(path.join(fixture, 'model.safetensors'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-cache-admin-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const DAY = 86_400_000;
const NO_TAGS = { sessionTags: ['ort-00000000000000aa'] };

/** A writable copy of the fixture's checkpoint (its own inode, so the cache's hard links are countable). */
function modelCopy(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(fixture, f), path.join(dir, f));
  return dir;
}

function compile(modelDir: string, cacheDir: string, format: WeightFormat = 'f32') {
  const ckpt = openCheckpoint({ kind: 'folder', path: modelDir });
  const family = lookupArchitecture(ckpt.rawConfig);
  const cfg = normalizeConfig(ckpt.rawConfig, family.defaults(String(ckpt.rawConfig.model_type ?? '')), `${ckpt.modelDir}/config.json`);
  return compileToCache(family, cfg, ckpt, 'portable', cacheDir, formatSpec(format));
}

/** A copy of a real entry (weights hard-linked like compile.ts does) whose meta.json says another compiler made it. */
function staleCopy(cacheDir: string, from: string, name: string, compiler = 'persona-lab-compiler/3'): string {
  const src = path.join(cacheDir, from), dst = path.join(cacheDir, name);
  fs.mkdirSync(path.join(dst, 'weights'), { recursive: true });
  for (const f of fs.readdirSync(path.join(src, 'weights'))) fs.linkSync(path.join(src, 'weights', f), path.join(dst, 'weights', f));
  fs.copyFileSync(path.join(src, 'model.onnx'), path.join(dst, 'model.onnx'));
  const meta = JSON.parse(fs.readFileSync(path.join(src, 'meta.json'), 'utf8'));
  meta.material.compiler = compiler;
  fs.writeFileSync(path.join(dst, 'meta.json'), JSON.stringify(meta));
  return dst;
}

/** Backdate an entry's last use (its stamp, created when missing). */
function usedAgo(entryDir: string, ms: number, now = Date.now()): void {
  const f = path.join(entryDir, LAST_USED_FILE);
  if (!fs.existsSync(f)) fs.writeFileSync(f, '');
  const t = new Date(now - ms);
  fs.utimesSync(f, t, t);
}

/** Every file under a folder with its size and mtime: what a dry run must leave exactly as it was. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n), st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p); else out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs} ${st.ino}`);
    }
  };
  walk(dir);
  return out;
}

const blocks = (p: string) => { const st = fs.statSync(p); return st.blocks * 512; };
const entry = (l: CacheListing, key: string) => l.entries.find((e) => e.name === key)!;

describe('compile cache administration', { skip: have ? false : `no parity fixture at ${fixture} (../shared absent)` }, () => {
  test('sizes count hard-linked bytes once and say what is shared with the model folder', async () => {
    const cache = path.join(tmp, 'sizes');
    const model = modelCopy('m-sizes');
    const f32 = compile(model, cache), int8 = compile(model, cache, 'int8');
    const l = await listCompileCache(cache, NO_TAGS);
    assert.equal(l.entries.length, 2);
    const weights = blocks(path.join(model, 'model.safetensors'));
    const own = (key: string) => snapshotBytes(path.join(cache, key), ['weights']);
    // The model's weight file is linked from both entries and the model folder: counted once, and shared.
    assert.equal(l.totalBytes, weights + own(f32.key) + own(int8.key));
    assert.equal(l.sharedBytes, weights);
    for (const c of [f32, int8]) {
      const e = entry(l, c.key);
      assert.equal(e.bytes, weights + own(c.key));
      assert.equal(e.sharedBytes, weights);
      assert.equal(e.freeBytes, own(c.key), 'deleting an entry never frees the model\'s own weights');
      assert.equal(e.stale, undefined);
      assert.equal(e.model, model);
    }
    assert.equal(entry(l, int8.key).format, 'int8');
    assert.ok(own(int8.key) > own(f32.key), 'int8 holds its quant.bin');
  });

  test('stale entries: old compiler, changed or deleted model, damaged; a dry run deletes nothing', async () => {
    const cache = path.join(tmp, 'stale');
    const model = modelCopy('m-stale'), gone = modelCopy('m-gone');
    const cur = compile(model, cache);
    const old = staleCopy(cache, cur.key, 'a'.repeat(32));
    const newer = staleCopy(cache, cur.key, 'c'.repeat(32), 'persona-lab-compiler/99'); // a newer install sharing the cache
    const orphan = compile(gone, cache, 'int8');
    fs.rmSync(gone, { recursive: true });
    fs.mkdirSync(path.join(cache, 'b'.repeat(32)));
    fs.writeFileSync(path.join(cache, 'b'.repeat(32), 'model.onnx'), 'x');
    // A compile of the current key that died two days ago: an abandoned leftover, and it does not hold the entry.
    const dead = path.join(cache, `${cur.key}.tmp-Ab12Cd`);
    fs.mkdirSync(dead);
    fs.writeFileSync(path.join(dead, 'model.onnx'), 'half');
    const twoDays = new Date(Date.now() - 2 * DAY);
    for (const p of [path.join(dead, 'model.onnx'), dead]) fs.utimesSync(p, twoDays, twoDays);
    const now = Date.now() + 2 * IN_USE_GRACE_MS; // nothing was just used
    const l = await listCompileCache(cache, { ...NO_TAGS, now });
    assert.equal(entry(l, cur.key).stale, undefined);
    assert.match(entry(l, path.basename(old)).stale!, /compiled by persona-lab-compiler\/3 \(now persona-lab-compiler\/\d+\)/);
    assert.match(entry(l, orphan.key).stale!, /source weight file gone/);
    assert.match(entry(l, 'b'.repeat(32)).stale!, /no readable meta\.json/);
    assert.match(entry(l, path.basename(dead)).stale!, /compile that did not finish/);
    assert.equal(entry(l, path.basename(dead)).inUse, undefined);
    assert.equal(entry(l, cur.key).inUse, undefined, 'an abandoned compile does not hold its key');
    assert.equal(entry(l, path.basename(newer)).stale, undefined, 'a newer compiler\'s entry is not stale: a newer install uses it');
    assert.match(entry(l, path.basename(newer)).newer!, /persona-lab-compiler\/99/);

    const before = snapshot(cache);
    const dry = await pruneCompileCacheEntries(cache, { ...NO_TAGS, now, dryRun: true });
    assert.deepEqual(snapshot(cache), before, 'a dry run deletes nothing');
    assert.deepEqual(dry.removed.map((r) => r.entry).sort(), [path.basename(old), 'b'.repeat(32), orphan.key, path.basename(dead)].sort());
    // The orphan's weights are linked only from the cache now (its model folder is gone): removing it frees them.
    assert.equal(entry(l, orphan.key).sharedBytes, 0);
    assert.equal(dry.freedBytes, ['a'.repeat(32), 'b'.repeat(32), orphan.key, path.basename(dead)].reduce((s, k) => s + entry(l, k).freeBytes, 0));

    const real = await pruneCompileCacheEntries(cache, { ...NO_TAGS, now });
    assert.equal(real.failed.length, 0);
    assert.deepEqual(fs.readdirSync(cache).sort(), [cur.key, path.basename(newer)].sort(), 'only the current and the newer entry are left, no rename leftovers');
    assert.equal(real.freedBytes, dry.freedBytes);
    // A changed model file makes its entry stale too (the key can never match again).
    const t = new Date(Date.now() - DAY);
    fs.utimesSync(path.join(model, 'model.safetensors'), t, t);
    assert.match(entry(await listCompileCache(cache, { ...NO_TAGS, now }), cur.key).stale!, /replaced or modified/);
  });

  test('an entry in use is kept: a compile of its key in progress, a file open in a process, a recent hit', async () => {
    const cache = path.join(tmp, 'locks');
    const model = modelCopy('m-locks');
    const a = compile(model, cache), b = compile(model, cache, 'int8'), c = compile(model, cache, 'int4');
    const now = Date.now();
    for (const k of [a.key, b.key]) usedAgo(path.join(cache, k), 40 * DAY, now);
    usedAgo(path.join(cache, c.key), 1000, now);
    fs.mkdirSync(path.join(cache, `${a.key}.tmp-Xy12ab`)); // compile.ts's temp folder while it builds this key
    const fd = fs.openSync(path.join(cache, b.key, 'model.onnx'), 'r'); // a session reading the graph
    try {
      const l = await listCompileCache(cache, { ...NO_TAGS, now });
      assert.equal(entry(l, a.key).inUse, 'its key is being compiled');
      if (fs.existsSync('/proc/self/fd')) assert.match(entry(l, b.key).inUse ?? '', new RegExp(`open by pid ${process.pid}\\b`));
      assert.match(entry(l, c.key).inUse ?? '', /used 1 s ago/);
      const r = await pruneCompileCacheEntries(cache, { ...NO_TAGS, now, olderThanMs: 30 * DAY, maxBytes: 0 });
      assert.deepEqual(r.removed.filter((x) => x.what === 'entry'), [], 'nothing in use is removed');
      assert.ok(r.kept.some((k) => k.entry === a.key));
      for (const k of [a.key, b.key, c.key]) assert.ok(fs.existsSync(path.join(cache, k, 'model.onnx')));
    } finally {
      fs.closeSync(fd);
    }
    // The fresh compile temp folder is reported as a partial compile in progress and kept too.
    assert.ok(fs.existsSync(path.join(cache, `${a.key}.tmp-Xy12ab`)));
  });

  test('--older-than and --max-size remove the least recently used first; foreign saved sessions go with --stale', async () => {
    const cache = path.join(tmp, 'lru');
    const model = modelCopy('m-lru');
    const a = compile(model, cache), b = compile(model, cache, 'int8'), c = compile(model, cache, 'int4');
    const now = Date.now();
    usedAgo(path.join(cache, a.key), 50 * DAY, now);
    usedAgo(path.join(cache, b.key), 10 * DAY, now);
    usedAgo(path.join(cache, c.key), 1 * DAY, now);
    // A saved session of another onnxruntime build, and one of this build, in the f32 entry.
    for (const tag of ['ort-00000000000000bb', NO_TAGS.sessionTags[0]]) {
      fs.mkdirSync(path.join(cache, a.key, tag));
      fs.writeFileSync(path.join(cache, a.key, tag, 'weights.bin'), Buffer.alloc(64 * 1024, 1));
    }
    let r = await pruneCompileCacheEntries(cache, { ...NO_TAGS, now, dryRun: true });
    assert.deepEqual(r.removed.map((x) => [x.what, path.basename(x.path)]), [['session', 'ort-00000000000000bb']]);
    r = await pruneCompileCacheEntries(cache, { ...NO_TAGS, now, stale: false, olderThanMs: 30 * DAY, dryRun: true });
    assert.deepEqual(r.removed.map((x) => x.entry), [a.key]);
    assert.match(r.removed[0].why, /not used for 50 d/);
    // Budget: the cache's own bytes (the model's weights excluded) minus the oldest entry's fit; the next one stays.
    const l = await listCompileCache(cache, { ...NO_TAGS, now });
    const own = l.totalBytes - l.sharedBytes;
    r = await pruneCompileCacheEntries(cache, { ...NO_TAGS, now, stale: false, maxBytes: own - entry(l, a.key).freeBytes });
    assert.deepEqual(r.removed.map((x) => x.entry), [a.key]);
    assert.equal(r.freedBytes, entry(l, a.key).freeBytes);
    assert.deepEqual(fs.readdirSync(cache).sort(), [b.key, c.key].sort());
    r = await pruneCompileCacheEntries(cache, { ...NO_TAGS, now, stale: false, maxBytes: 1 });
    assert.deepEqual(r.removed.map((x) => x.entry), [b.key, c.key], 'oldest first');
    assert.deepEqual(fs.readdirSync(cache), []);
    assert.ok(fs.existsSync(path.join(model, 'model.safetensors')), 'the model folder is untouched');
  });

  test('a cache hit stamps the entry\'s last use', async () => {
    const cache = path.join(tmp, 'stamp');
    const model = modelCopy('m-stamp');
    const first = compile(model, cache);
    const stamp = path.join(cache, first.key, LAST_USED_FILE);
    assert.equal(fs.existsSync(stamp), false, 'a compile is not a use');
    const hit = compile(model, cache);
    assert.equal(hit.cacheHit, true);
    assert.ok(Math.abs(fs.statSync(stamp).mtimeMs - Date.now()) < 60_000);
    const l = await listCompileCache(cache, NO_TAGS);
    assert.equal(l.entries[0].lastUsed, new Date(fs.statSync(stamp).mtimeMs).toISOString());
  });
});

// A graph compile.ts writes beside the weights when the cache is on another filesystem: a real compile of a model in
// the temp folder into a cache on /dev/shm (tmpfs), where hard links and reflinks are impossible.
const shm = '/dev/shm';
const otherFs = (() => { try { return fs.statSync(shm).dev !== fs.statSync(tmp).dev; } catch { return false; } })();

test('graphs beside the weights are listed with their location and removed only by name', {
  skip: !have ? `no parity fixture at ${fixture}` : !otherFs ? `${shm} is not another filesystem than ${os.tmpdir()}` : false,
}, async (t) => {
  const cache = fs.mkdtempSync(path.join(shm, 'pl-cache-beside-'));
  t.after(() => fs.rmSync(cache, { recursive: true, force: true }));
  const model = modelCopy('m-beside');
  const c = compile(model, cache);
  assert.equal(c.besideWeights, true, 'hard links impossible: the graph went beside the weights');
  const graph = path.join(model, `.persona-lab-${c.key}.onnx`);
  assert.equal(c.onnxPath, graph);
  assert.equal(compile(model, cache).cacheHit, true, 'and is hit there');

  const BESIDE = { ...NO_TAGS, besideWeights: true };
  assert.deepEqual((await listCompileCache(cache, NO_TAGS)).entries, [], 'only a caller that asks sees graphs beside the weights (the editor does not)');
  assert.deepEqual((await pruneCompileCacheEntries(cache, { ...NO_TAGS, stale: false, names: [c.key], dryRun: true })).removed, [], '…nor removes one');
  const l = await listCompileCache(cache, BESIDE);
  assert.equal(l.entries.length, 1);
  const e = l.entries[0];
  assert.deepEqual({ name: e.name, kind: e.kind, dir: e.dir, model: e.model, format: e.format, variant: e.variant, bytes: e.bytes, stale: e.stale },
    { name: c.key, kind: 'beside', dir: graph, model, format: 'f32', variant: 'portable', bytes: blocks(graph), stale: undefined });
  assert.match(e.inUse ?? '', /used \d+ s ago/, 'just hit');
  assert.equal(l.totalBytes, 0, 'a graph beside the weights is not in the root\'s totals');

  // Unused for 40 days, and stale (an older compiler's): still no criterion removes it.
  const record = e.record!;
  assert.equal(path.dirname(record), cache);
  const meta = JSON.parse(fs.readFileSync(record, 'utf8'));
  meta.material.compiler = 'persona-lab-compiler/3';
  fs.writeFileSync(record, JSON.stringify(meta));
  usedAgoFile(record, 40 * DAY);
  const all = await pruneCompileCacheEntries(cache, { ...BESIDE, stale: true, olderThanMs: DAY, maxBytes: 0 });
  assert.deepEqual(all.removed, []);
  assert.deepEqual(all.besideWeights, [{ entry: c.key, path: graph, stale: 'compiled by persona-lab-compiler/3 (now persona-lab-compiler/4)' }]);
  assert.ok(fs.existsSync(graph));

  // Named, but a process has it open (this one, as a worker holds what it loaded): kept, and says why.
  const release = holdCacheEntry(graph);
  const held = await pruneCompileCacheEntries(cache, { ...BESIDE, stale: false, names: [c.key] });
  release();
  assert.deepEqual(held.removed, []);
  assert.match(held.kept[0]?.inUse ?? '', new RegExp(`open by pid ${process.pid}\\b`));
  assert.deepEqual(held.besideWeights, [], 'named: kept as in use, not "left" as unnamed');

  // Named: the graph and its record go; the weights stay.
  const named = await pruneCompileCacheEntries(cache, { ...BESIDE, stale: false, names: [c.key] });
  assert.deepEqual(named.removed.map((i) => [i.what, i.path, i.bytes]), [['beside', graph, e.bytes]]);
  assert.equal(named.freedBytes, e.bytes);
  assert.equal(fs.existsSync(graph), false);
  assert.deepEqual(fs.readdirSync(cache), []);
  assert.deepEqual(fs.readdirSync(model).sort(), ['config.json', 'model.safetensors']);

  // A record whose graph was deleted by hand is stale and goes with --stale (it is only a file in the cache).
  const again = compile(model, cache);
  assert.equal(again.cacheHit, false);
  fs.rmSync(again.onnxPath);
  const dangling = await listCompileCache(cache, BESIDE);
  assert.match(dangling.entries[0].stale ?? '', /graph beside the weights is gone/);
  usedAgoFile(dangling.entries[0].record!, 10 * 60_000);
  const swept = await pruneCompileCacheEntries(cache, BESIDE);
  assert.deepEqual(swept.removed.map((i) => i.entry), [again.key]);
  assert.deepEqual(fs.readdirSync(cache), []);
});

function usedAgoFile(file: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  fs.utimesSync(file, t, t);
}

test('sizes and durations need a unit; a bare number is refused', () => {
  assert.equal(parseSize('50GB'), 50e9);
  assert.equal(parseSize('1.5 TiB'), 1.5 * 2 ** 40);
  assert.equal(parseSize('500mb'), 500e6);
  assert.equal(parseDuration('30d'), 30 * DAY);
  assert.equal(parseDuration('12h'), 12 * 3600_000);
  assert.equal(parseDuration('2w'), 14 * DAY);
  for (const bad of ['50', 'GB', '50 parsecs', '-1GB', '']) assert.match(sizeProblem(bad) ?? '', /unit/, bad);
  for (const bad of ['30', 'd', '30 years']) assert.match(durationProblem(bad) ?? '', /unit/, bad);
  assert.match(durationProblem('0d') ?? '', /longer than 0/);
  assert.throws(() => parseSize('50'), (e: Error & { reason?: string }) => e.reason === 'usage');
});

function snapshotBytes(dir: string, skip: string[]): number {
  let n = 0;
  const walk = (d: string, top: boolean) => {
    for (const name of fs.readdirSync(d)) {
      if (top && skip.includes(name)) continue;
      const p = path.join(d, name), st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p, false); else n += st.blocks * 512;
    }
  };
  walk(dir, true);
  return n;
}

test('a beside-weights record left half-written by a dead process is removed when that record is next written; a live writer\'s is kept', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-beside-tmp-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const key = '0123456789abcdef0123456789abcdef';
  const record = path.join(root, `${key}${BESIDE_SUFFIX}`);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its pid is free
  const other = `${'f'.repeat(32)}${BESIDE_SUFFIX}.tmp-${dead}`; // another key's leftover: not this record's to clean
  for (const n of [`${path.basename(record)}.tmp-${dead}`, `${path.basename(record)}.tmp-${process.ppid}`, other]) fs.writeFileSync(path.join(root, n), '{');
  markGraphBesideWeights(root, '/models/m/.persona-lab-0123456789abcdef0123456789abcdef.onnx', { key, material: {}, modelDir: '/models/m' });
  assert.deepEqual(fs.readdirSync(root).sort(), [path.basename(record), `${path.basename(record)}.tmp-${process.ppid}`, other].sort());
  assert.equal(JSON.parse(fs.readFileSync(record, 'utf8')).key, key);
});
