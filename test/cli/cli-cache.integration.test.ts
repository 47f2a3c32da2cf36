// `persona-lab cache list|prune` through the real CLI process, on a cache the CLI itself filled (`parity` compiles
// a copy of a parity fixture into it; its second run is a cache hit and stamps the entry) plus a stale entry of an
// older compiler made from it. Bad values are refused with exit 2 and delete nothing; a dry run deletes nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { LAST_USED_FILE } from '../../src/engine/model/cache-stamp.js';
import type { CacheListing, PruneResult } from '../../src/engine/model/cache-admin.js';
import { cli } from './helpers.js';

const fixture = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'parity', 'llama_gqa');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-cli-cache-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tree = (d: string) => fs.readdirSync(d, { recursive: true }).map(String).sort();

test('cache list / prune on a cache the CLI filled', { skip: fs.existsSync(fixture) ? false : `no parity fixture at ${fixture} (../shared absent)` }, async () => {
  const model = path.join(tmp, 'llama_gqa');
  fs.cpSync(fixture, model, { recursive: true });
  for (const f of fs.readdirSync(model)) fs.chmodSync(path.join(model, f), 0o644);
  const cache = path.join(tmp, 'graphs');
  for (let i = 0; i < 2; i++) {
    const p = await cli(['parity', model, '--cache-dir', cache, '--variant', 'portable']);
    assert.equal(p.code, 0, p.stderr);
  }
  const [key] = fs.readdirSync(cache);
  assert.ok(fs.existsSync(path.join(cache, key, LAST_USED_FILE)), 'the second parity run hit the cache and stamped it');

  // A stale entry: the same graph as an older compiler's (weights hard-linked, as compile.ts links them), unused for 40 days.
  const old = path.join(cache, 'f'.repeat(32));
  fs.mkdirSync(path.join(old, 'weights'), { recursive: true });
  for (const f of fs.readdirSync(path.join(cache, key, 'weights'))) fs.linkSync(path.join(cache, key, 'weights', f), path.join(old, 'weights', f));
  fs.copyFileSync(path.join(cache, key, 'model.onnx'), path.join(old, 'model.onnx'));
  const meta = JSON.parse(fs.readFileSync(path.join(cache, key, 'meta.json'), 'utf8'));
  meta.material.compiler = 'persona-lab-compiler/1';
  fs.writeFileSync(path.join(old, 'meta.json'), JSON.stringify(meta));
  const t = new Date(Date.now() - 40 * 86_400_000);
  fs.utimesSync(path.join(old, 'meta.json'), t, t);
  fs.utimesSync(path.join(old, 'model.onnx'), t, t);
  meta.createdAt = t.toISOString();
  fs.writeFileSync(path.join(old, 'meta.json'), JSON.stringify(meta));

  // list: JSON and the table; the default folder is $PERSONA_LAB_CACHE (the engine's defaultCacheDir).
  const lj = await cli(['cache', 'list', '--json'], { PERSONA_LAB_CACHE: cache });
  assert.equal(lj.code, 0, lj.stderr);
  const listing = JSON.parse(lj.stdout) as CacheListing;
  assert.equal(listing.root, cache);
  assert.deepEqual(listing.entries.map((e) => e.name), [key, path.basename(old)], 'most recently used first');
  assert.equal(listing.entries[0].stale, undefined);
  assert.match(listing.entries[1].stale!, /compiled by persona-lab-compiler\/1/);
  assert.equal(listing.sharedBytes, fs.statSync(path.join(model, 'model.safetensors')).blocks * 512, 'the weights: linked from both entries and the model, counted once');
  const lt = await cli(['cache', 'list', '--cache-dir', cache]);
  assert.equal(lt.code, 0);
  assert.match(lt.stdout, /2 entries, .* on disk/);
  assert.match(lt.stdout, /f32\/portable .*stale: compiled by persona-lab-compiler\/1/);
  assert.match(lt.stdout, /in use: used \d+ s ago/, 'the entry parity just used');

  // Bad values: exit 2, the reason on stderr, nothing deleted.
  const before = tree(cache);
  for (const [args, why] of [
    [['--max-size', '50'], /--max-size takes a size with a unit, e\.g\. 50GB/],
    [['--older-than', '30'], /--older-than takes a duration with a unit, e\.g\. 30d/],
    [['--older-than', '0d'], /--older-than must be longer than 0/],
    [['--yes', 'stale'], /unexpected argument "stale"/],
    [['--cache-dir', path.join(model, 'config.json'), '--yes'], /is not a folder/],
  ] as const) {
    const r = await cli(['cache', 'prune', '--cache-dir', cache, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.deepEqual(tree(cache), before);
  }

  // Dry run (the default): says what would go and deletes nothing.
  const dry = await cli(['cache', 'prune', '--cache-dir', cache]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would remove 1 item .* freeing [\d.]+ KB/);
  assert.match(dry.stdout, /dry run: nothing deleted\. Add --yes to delete\./);
  assert.deepEqual(tree(cache), before);

  // --yes: the stale entry goes; --older-than 1m keeps the entry parity just used (in use), and says so.
  const real = await cli(['cache', 'prune', '--cache-dir', cache, '--yes', '--json']);
  assert.equal(real.code, 0, real.stderr);
  const r = JSON.parse(real.stdout) as PruneResult;
  assert.deepEqual(r.removed.map((x) => x.entry), [path.basename(old)]);
  assert.equal(r.failed.length, 0);
  assert.deepEqual(fs.readdirSync(cache), [key]);
  const recent = await cli(['cache', 'prune', '--cache-dir', cache, '--older-than', '1m', '--max-size', '1KB', '--yes']);
  assert.equal(recent.code, 0, recent.stderr);
  assert.match(recent.stdout, /nothing to remove/);
  assert.match(recent.stdout, /kept [0-9a-f]{12} \(over the size budget\): in use, used \d+ s ago/);
  assert.ok(fs.existsSync(path.join(cache, key, 'model.onnx')));
  assert.ok(fs.existsSync(path.join(model, 'model.safetensors')), 'the model folder is untouched');
});

// The cache on another filesystem (/dev/shm, tmpfs): `parity` writes its graph beside the model's weights. `cache list`
// shows it with its location; no criterion prunes it; `--entry KEY` (the 12 characters the list shows) does.
const otherFs = (() => { try { return fs.statSync('/dev/shm').dev !== fs.statSync(tmp).dev; } catch { return false; } })();

test('cache list / prune --entry on a graph beside the weights', {
  skip: !fs.existsSync(fixture) ? `no parity fixture at ${fixture} (../shared absent)` : !otherFs ? '/dev/shm is not another filesystem than the temp folder' : false,
}, async (t) => {
  const model = path.join(tmp, 'beside-model');
  fs.cpSync(fixture, model, { recursive: true });
  for (const f of fs.readdirSync(model)) fs.chmodSync(path.join(model, f), 0o644);
  const cache = fs.mkdtempSync('/dev/shm/pl-cli-cache-beside-');
  t.after(() => fs.rmSync(cache, { recursive: true, force: true }));
  const p = await cli(['parity', model, '--cache-dir', cache, '--variant', 'portable']);
  assert.equal(p.code, 0, p.stderr);
  const [graph] = fs.readdirSync(model).filter((f) => f.startsWith('.persona-lab-'));
  assert.ok(graph, 'the graph went beside the weights');
  const key = /^\.persona-lab-([0-9a-f]+)\.onnx$/.exec(graph)![1];
  // Its record says it was used now; backdate it past the in-use grace so only the rule "by name only" keeps it.
  const record = fs.readdirSync(cache).find((f) => f.startsWith(key))!;
  const old = new Date(Date.now() - 40 * 86_400_000);
  fs.utimesSync(path.join(cache, record), old, old);

  const l = await cli(['cache', 'list', '--cache-dir', cache]);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /0 entries/);
  assert.match(l.stdout, /1 graph beside model weights .*removed only by name: `persona-lab cache prune --entry KEY --yes`/);
  assert.ok(l.stdout.includes(`${key.slice(0, 12)}  f32/portable`) && l.stdout.includes(path.join(model, graph)), l.stdout);

  const crit = await cli(['cache', 'prune', '--cache-dir', cache, '--stale', '--older-than', '1d', '--max-size', '1KB', '--yes']);
  assert.equal(crit.code, 0, crit.stderr);
  assert.match(crit.stdout, /nothing to remove/);
  assert.ok(crit.stdout.includes(`left ${key.slice(0, 12)} beside model weights (removed only by --entry): ${path.join(model, graph)}`), crit.stdout);
  assert.ok(fs.existsSync(path.join(model, graph)));

  for (const [bad, why] of [['abcdef', /--entry abcdef: no such entry/], ['ab', /no such entry .*6 characters or more/]] as const) {
    const r = await cli(['cache', 'prune', '--cache-dir', cache, '--entry', bad, '--yes']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, why);
    assert.ok(fs.existsSync(path.join(model, graph)));
  }
  const named = await cli(['cache', 'prune', '--cache-dir', cache, '--entry', key.slice(0, 12), '--yes']);
  assert.equal(named.code, 0, named.stderr);
  assert.match(named.stdout, /removed 1 item .*\n\s+[0-9a-f]{12}\s+f32 beside weights .* picked/);
  assert.equal(fs.existsSync(path.join(model, graph)), false);
  assert.deepEqual(fs.readdirSync(cache), []);
  assert.deepEqual(fs.readdirSync(model).sort(), fs.readdirSync(fixture).sort(), 'the model folder is as it was');
});
