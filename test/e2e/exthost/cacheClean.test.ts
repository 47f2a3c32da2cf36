/**
 * Clean Compile Cache… in the running extension (./src/extension/cacheCommand.ts): on a temp cache holding a real
 * compile of (a copy of) the toy model and a stale entry made from it, the scripted command with prune's own plan
 * removes exactly the stale entry; a current entry just used is kept even when picked (in use); once unused it goes.
 */
import * as assert from 'node:assert/strict';
import { cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { lookupArchitecture } from '../../../src/engine/arch/registry.js';
import type { PruneResult } from '../../../src/engine/model/cache-admin.js';
import { LAST_USED_FILE } from '../../../src/engine/model/cache-stamp.js';
import { openCheckpoint } from '../../../src/engine/model/checkpoint.js';
import { compileToCache } from '../../../src/engine/model/compile.js';
import { normalizeConfig } from '../../../src/engine/model/config.js';

const ext = () => vscode.extensions.getExtension('persona-lab.persona-lab')!;

describe('Clean Compile Cache', function () {
  this.timeout(120_000);
  let tmp: string;

  before(async function () {
    await ext().activate();
    const toyMain = path.join(ext().extensionPath, 'models', 'toy-persona', 'revisions', 'main');
    if (!existsSync(toyMain)) this.skip();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-e2e-cache-'));
    cpSync(toyMain, path.join(tmp, 'model'), { recursive: true });
  });
  after(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

  it('removes the stale entry prune plans, keeps an entry in use, removes it once unused', async () => {
    const cache = path.join(tmp, 'graphs');
    const ckpt = openCheckpoint({ kind: 'folder', path: path.join(tmp, 'model') });
    const family = lookupArchitecture(ckpt.rawConfig);
    const cfg = normalizeConfig(ckpt.rawConfig, family.defaults(String(ckpt.rawConfig.model_type ?? '')), `${ckpt.modelDir}/config.json`);
    const { key } = compileToCache(family, cfg, ckpt, 'portable', cache);
    const stale = path.join(cache, 'e'.repeat(32));
    mkdirSync(path.join(stale, 'weights'), { recursive: true });
    for (const f of readdirSync(path.join(cache, key, 'weights'))) linkSync(path.join(cache, key, 'weights', f), path.join(stale, 'weights', f));
    writeFileSync(path.join(stale, 'model.onnx'), readFileSync(path.join(cache, key, 'model.onnx')));
    const meta = JSON.parse(readFileSync(path.join(cache, key, 'meta.json'), 'utf8'));
    meta.material.graph = 1; // an older graph revision: never hit again
    meta.createdAt = new Date(Date.now() - 3 * 86_400_000).toISOString();
    writeFileSync(path.join(stale, 'meta.json'), JSON.stringify(meta));

    const planned = await vscode.commands.executeCommand<PruneResult>('personaLab.cleanCompileCache', { cacheDir: cache, picks: 'plan', confirmed: true });
    assert.ok(planned, 'no result');
    assert.deepEqual(planned.removed.map((r) => r.entry), [path.basename(stale)]);
    assert.match(planned.removed[0].why, /graph revision 1/);
    assert.ok(planned.freedBytes > 0);
    assert.deepEqual(readdirSync(cache), [key]);

    // Just compiled: in use (may be loading); picked anyway, it is kept.
    const busy = await vscode.commands.executeCommand<PruneResult>('personaLab.cleanCompileCache', { cacheDir: cache, picks: [key], confirmed: true });
    assert.equal(busy?.removed.length, 0);
    assert.match(busy?.kept[0]?.inUse ?? '', /used \d+ s ago/);
    assert.ok(existsSync(path.join(cache, key, 'model.onnx')));

    const t = new Date(Date.now() - 10 * 86_400_000);
    writeFileSync(path.join(cache, key, LAST_USED_FILE), '');
    utimesSync(path.join(cache, key, LAST_USED_FILE), t, t);
    const gone = await vscode.commands.executeCommand<PruneResult>('personaLab.cleanCompileCache', { cacheDir: cache, picks: [key], confirmed: true });
    assert.deepEqual(gone?.removed.map((r) => r.entry), [key]);
    assert.deepEqual(readdirSync(cache), []);
    assert.ok(existsSync(path.join(tmp, 'model', 'model.safetensors')), 'the model folder is untouched');
  });
});
