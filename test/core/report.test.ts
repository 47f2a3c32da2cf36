/**
 * The report's refusals, without runs to draw: a run id that is not there names the runs that are (or says there are
 * none and how to get some), and a missing chart.js is the installation's fault (reason asset-missing, exit 1), not
 * bad input (exit 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildReport, loadChartJs } from '../../src/core/report/build.js';
import { PipelineError } from '../../src/core/errors.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { exitCodeFor } from '../../src/cli/exit-codes.js';

test('report RUN that does not exist: says the workspace has no runs, or lists the ones it has', (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-report-unit-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const ws = new Workspace(tmp);
  assert.throws(() => buildReport(ws, { runs: ['no-such-run'], chartJs: '' }),
    (e: unknown) => PipelineError.is(e, 'data-invalid') && /no run no-such-run: this workspace .* has no runs yet/.test((e as Error).message) && /persona-lab demo/.test((e as Error).message));
  const mk = (id: string, updatedAt: string) => {
    mkdirSync(ws.runDir(id), { recursive: true });
    writeFileSync(path.join(ws.runDir(id), 'manifest.json'), JSON.stringify({ runId: id, kind: 'grid', status: 'done', config: {}, updatedAt }));
  };
  mk('grid-toy-persona-main-evil-1a2b', '2026-01-01T00:00:00Z');
  mk('controls-toy-persona-main-evil-3c4d', '2026-01-02T00:00:00Z');
  assert.throws(() => buildReport(ws, { runs: ['no-such-run'], chartJs: '' }),
    (e: unknown) => /Runs there \(2, newest first\): controls-toy-persona-main-evil-3c4d, grid-toy-persona-main-evil-1a2b\./.test((e as Error).message));
  assert.throws(() => buildReport(ws, { runs: ['grid-toy'], chartJs: '' }), /Runs whose id contains it: grid-toy-persona-main-evil-1a2b\./);
  assert.throws(() => buildReport(ws, { runs: ['grid-toy-persona-main-evil-1a2b', 'gone'], chartJs: '' }), /no run gone in /);
  assert.deepEqual(readdirSync(tmp), ['runs'], 'nothing written');
});

test('chart.js missing from the installation: asset-missing (exit 1) with how to repair it', (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-report-asset-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  let err: unknown;
  try { loadChartJs(tmp); } catch (e) { err = e; }
  assert.ok(PipelineError.is(err, 'asset-missing'), String(err));
  assert.match((err as Error).message, /installation is incomplete.*node scripts\/build\.mjs.*reinstall/s);
  assert.equal(exitCodeFor(err, false, 'report'), 1, 'a broken installation is a failure, not a usage error');
  // Where scripts/build.mjs puts it, next to the bundle: found.
  mkdirSync(path.join(tmp, 'dist', 'media'), { recursive: true });
  writeFileSync(path.join(tmp, 'dist', 'media', 'chart.umd.min.js'), '/* chart */');
  assert.equal(loadChartJs(path.join(tmp, 'dist')), '/* chart */');
  // And from this source checkout it is found (dist/media or node_modules).
  assert.match(loadChartJs(), /Chart/);
});
