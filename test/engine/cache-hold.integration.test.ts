// A live worker holds the compile-cache entry of every model it has loaded (src/engine/model/cache-stamp.ts
// holdCacheEntry, registry.ts): `persona-lab cache prune --yes` keeps the entry however long ago it was loaded (the
// stamp is backdated past IN_USE_GRACE_MS) and says why; the hold is the worker's own open meta.json, not
// onnxruntime's mappings (an implementation detail that may change); after unload it is released, and once the worker
// is gone the entry is prunable. Real worker process, toy model in int8 (the format whose saved session is not used).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { InferenceClient } from '../../src/engine/client.js';
import { IN_USE_GRACE_MS } from '../../src/engine/model/cache-admin.js';
import { LAST_USED_FILE } from '../../src/engine/model/cache-stamp.js';
import { cli } from '../cli/helpers.js';

const toy = path.resolve(import.meta.dirname, '..', '..', 'models', 'toy-persona', 'revisions', 'main');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-cache-hold-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Files under `dir` the process has open (its /proc fd links). */
const openFiles = (pid: number, dir: string) => fs.readdirSync(`/proc/${pid}/fd`)
  .map((fd) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } })
  .filter((f) => f.startsWith(dir + path.sep));

/** Backdate the entry's last use past the grace period (a load long ago). */
function loadedLongAgo(entry: string): void {
  const t = new Date(Date.now() - IN_USE_GRACE_MS - 10 * 60_000);
  const stamp = path.join(entry, LAST_USED_FILE);
  if (!fs.existsSync(stamp)) fs.writeFileSync(stamp, '');
  fs.utimesSync(stamp, t, t);
}

test('a live worker\'s cache entry survives `cache prune --yes` however old its load; the worker gone, it is prunable', {
  skip: process.platform !== 'linux' ? 'needs /proc (Linux)' : !fs.existsSync(path.join(toy, 'model.safetensors')) ? `no toy model at ${toy}` : false,
}, async () => {
  const cache = path.join(fs.realpathSync(tmp), 'graphs');
  const prune = () => cli(['cache', 'prune', '--older-than', '1m', '--yes', '--cache-dir', cache]);
  const client = await InferenceClient.start({});
  let disposed = false;
  try {
    const info = await client.loadModel({ path: toy, cacheDir: cache, weightFormat: 'int8', executionProvider: 'cpu', threads: 1 });
    const [key] = fs.readdirSync(cache);
    const entry = path.join(cache, key);
    assert.deepEqual(openFiles(client.pid, entry), [path.join(entry, 'meta.json')], 'the worker holds its entry open itself');

    loadedLongAgo(entry);
    const kept = await prune();
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, new RegExp(`kept ${key.slice(0, 12)} \\(not used for [\\d.]+ h\\): in use, open by pid ${client.pid}\\b`), kept.stdout);
    assert.ok(fs.existsSync(path.join(entry, 'model.onnx')), 'the entry is still there');
    // The model still runs from it.
    const g = await client.generate({ modelId: info.modelId, rows: [{ prompt: { messages: [{ role: 'user', content: 'Hi' }] } }], sampling: { temperature: 0, maxNewTokens: 2 } });
    assert.equal(g.rows.length, 1);

    await client.unloadModel(info.modelId);
    assert.deepEqual(openFiles(client.pid, entry), [], 'unloading releases the hold');
    await client.dispose();
    disposed = true;

    loadedLongAgo(entry);
    const gone = await prune();
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stdout, /removed 1 item/, gone.stdout);
    assert.ok(!fs.existsSync(entry), 'no live worker: the unused entry is pruned');
  } finally {
    if (!disposed) await client.dispose();
  }
});
