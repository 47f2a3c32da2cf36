// Loading from the Hugging Face cache layout: models--org--name/{refs,snapshots,blobs} with
// snapshot files symlinked into blobs/ (built here in a temp folder from a parity fixture,
// or a random checkpoint when ../shared is absent).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveHfCacheRevision } from '../../src/engine/model/checkpoint.js';
import { loadModel } from '../../src/engine/model/session.js';
import { CASES } from './helpers/cases.js';
import { randomWeights, writeCheckpoint } from './helpers/random-checkpoint.js';
import { bitwiseEqual, runSingle } from './helpers/run.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = path.resolve(repoRoot, '../shared/fixtures/parity/qwen2');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-hfcache-'));
const cacheDir = path.join(tmp, 'graphs');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Build models--org--tiny with two revisions whose weights differ. Returns [repoDir, commits]. */
function buildCache(source: string, alt: string): { repo: string; c1: string; c2: string } {
  const repo = path.join(tmp, 'hub', 'models--org--tiny');
  const blobs = path.join(repo, 'blobs');
  fs.mkdirSync(blobs, { recursive: true });
  fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
  const addSnapshot = (commit: string, src: string) => {
    const snap = path.join(repo, 'snapshots', commit);
    fs.mkdirSync(snap, { recursive: true });
    for (const name of ['config.json', 'model.safetensors']) {
      const bytes = fs.readFileSync(path.join(src, name));
      const sha = crypto.createHash('sha256').update(bytes).digest('hex');
      if (!fs.existsSync(path.join(blobs, sha))) fs.writeFileSync(path.join(blobs, sha), bytes);
      fs.symlinkSync(`../../blobs/${sha}`, path.join(snap, name));
    }
  };
  const c1 = '1'.repeat(8) + crypto.randomBytes(16).toString('hex');
  const c2 = '2'.repeat(8) + crypto.randomBytes(16).toString('hex');
  addSnapshot(c1, source);
  addSnapshot(c2, alt);
  fs.writeFileSync(path.join(repo, 'refs', 'main'), c2 + '\n');
  fs.mkdirSync(path.join(repo, 'refs', 'tags'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'refs', 'stage1-step3000'), c1);
  return { repo, c1, c2 };
}

describe('HF cache layout', () => {
  test('revisions (branch, commit, short commit) resolve to snapshots; symlinked blobs load via hard links', async () => {
    const raw = CASES['qwen2 use_sliding_window from layer 1'];
    const source = fs.existsSync(fixture) ? fixture : writeCheckpoint(path.join(tmp, 'src'), raw, randomWeights(raw, 1));
    const alt = path.join(tmp, 'alt');
    fs.mkdirSync(alt);
    // A second revision with different weights: same config, perturbed copy of the safetensors data.
    fs.copyFileSync(path.join(source, 'config.json'), path.join(alt, 'config.json'));
    const bytes = fs.readFileSync(path.join(source, 'model.safetensors'));
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    for (let i = dataStart + 3; i < bytes.length; i += 4) bytes[i] ^= 0x01; // flip a high mantissa/exponent bit
    fs.writeFileSync(path.join(alt, 'model.safetensors'), bytes);
    const { repo, c1, c2 } = buildCache(source, alt);

    assert.equal(resolveHfCacheRevision(repo, 'stage1-step3000').commit, c1);
    assert.equal(resolveHfCacheRevision(repo, 'main').commit, c2);
    assert.equal(resolveHfCacheRevision(repo, c1.slice(0, 10)).commit, c1);
    assert.equal(resolveHfCacheRevision(repo, c2).commit, c2);

    const folder = await loadModel({ kind: 'folder', path: source }, { cacheDir });
    const byBranch = await loadModel({ kind: 'hf-cache', repoDir: repo, revision: 'stage1-step3000' }, { cacheDir });
    const byCommit = await loadModel({ kind: 'hf-cache', repoDir: repo, revision: c1 }, { cacheDir });
    const main = await loadModel({ kind: 'hf-cache', repoDir: repo, revision: 'main' }, { cacheDir });
    try {
      assert.equal(byBranch.modelDir, path.join(repo, 'snapshots', c1));
      assert.equal(byCommit.info.cacheHit, true, 'same blobs → same compiled graph');
      const ids = [1, 5, 9, 13, 17];
      const [f, b, m] = [await runSingle(folder, ids), await runSingle(byBranch, ids), await runSingle(main, ids)];
      assert.ok(bitwiseEqual(f.logits!, b.logits!), 'snapshot load equals folder load');
      assert.ok(!bitwiseEqual(f.logits!, m.logits!), 'main points to different weights');
      const linked = path.join(path.dirname(byBranch.info.onnxPath), 'weights');
      const blob = fs.realpathSync(path.join(repo, 'snapshots', c1, 'model.safetensors'));
      assert.equal(fs.statSync(path.join(linked, fs.readdirSync(linked)[0])).ino, fs.statSync(blob).ino);
    } finally {
      await Promise.all([folder.dispose(), byBranch.dispose(), byCommit.dispose(), main.dispose()]);
    }
  });
});
