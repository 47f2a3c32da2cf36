// The geometry panel's MDS map and the report's trait MDS figure are one computation (core/geometry/mds.ts): for the
// same vectors (three traits' vectors at one revision, at the layer the report takes from the first trait's grid)
// both give the same coordinates, bit for bit. Before, each had its own power iteration (panel `mds2`, report
// `classicalMds`) with other start vectors and sign conventions.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { collectFigures } from '../../src/core/report/build.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { writeVectorFile } from '../../src/core/vectors/file.js';
import { loadGeometryView } from '../../src/extension/panels/geometryData.js';

test('the geometry panel and the report place the same vectors at the same MDS coordinates', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-geometry-mds-'));
  try {
    const ws = new Workspace(dir);
    const traits = ['evil', 'humorous', 'sycophantic'];
    const L1 = 6, H = 8, layer = 3;
    for (const [t, trait] of traits.entries()) {
      const d = new Float32Array(L1 * H).map((_, x) => Math.sin(1.7 * x + 2.3 * t) + (x % H === t ? 0.5 : 0));
      writeVectorFile(ws.vectorPath('toy-persona', 'main', trait), { layers: L1, hidden: H, data: { response_avg: d, prompt_avg: d, prompt_last: d }, metadata: { revision: 'main' } });
      // A finished grid run per trait: the report takes the first trait's best layer for the trait geometry.
      const run = path.join(ws.runsDir, `grid-${trait}`);
      mkdirSync(run, { recursive: true });
      const at = new Date(Date.UTC(2026, 0, 1 + t)).toISOString();
      writeFileSync(path.join(run, 'manifest.json'), JSON.stringify({ format: 'persona-lab-run/1', runId: `grid-${trait}`, kind: 'grid', configHash: trait, status: 'done',
        config: { trait, model: { name: 'toy-persona', revision: 'main' } }, createdAt: at, updatedAt: at, starts: 1, environment: { node: '', platform: '', arch: '' } }));
      writeFileSync(path.join(run, 'combined_significance.csv'), `mode,layer,coef,delta_trait_mean\nsteer,${layer},4,10\n`);
      writeFileSync(path.join(run, 'results.json'), JSON.stringify({ best: { condition: { layer, coef: 4 } } }));
    }
    const fig = collectFigures(ws).figures.find((f) => f.id === 'trait_mds');
    assert.ok(fig, 'the report has the trait MDS figure');
    const report = fig.rows.map((r) => [r.trait, r.x, r.y]);
    const view = loadGeometryView(path.join(ws.root, 'vectors', 'toy-persona'), 'evil', { layer, ws });
    const panel = view.mds.map((p) => [p.label.replace(/ @ main$/, ''), p.x, p.y]);
    assert.deepEqual(panel, report);
    assert.equal(report.length, 3);
    assert.ok(report.every(([, x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
