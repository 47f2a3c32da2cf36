/** readShiftResults: the report reads stored shift runs (the latest finished one, or a named one) without recomputing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Workspace } from '../../src/core/storage/workspace.js';
import { readShiftResults } from '../../src/core/shift/index.js';

function fakeRun(ws: Workspace, id: string, kind: string, status: string, updatedAt: string, base: string): void {
  const dir = ws.runDir(id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ runId: id, kind, status, updatedAt, config: {} }));
  writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ base, layer: 1, traits: ['evil'], models: ['ft'], summary: [{ trait: 'evil', layer: 1, r: 0.9, n: 4 }],
    rows: [{ model: 'ft', trait: 'evil', layer: 1, shift: 0.5, expression: 12, coherence: 90, r: 0.9 }], screening: [], orders: [] }));
}

test('readShiftResults: the latest finished shift run, or the one named; null without one', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-shift-read-'));
  try {
    const ws = new Workspace(tmp);
    assert.equal(readShiftResults(ws), null);
    fakeRun(ws, 'shift-a', 'shift', 'done', '2026-01-01T00:00:00.000Z', 'a');
    fakeRun(ws, 'shift-b', 'shift', 'done', '2026-01-02T00:00:00.000Z', 'b');
    fakeRun(ws, 'shift-c', 'shift', 'failed', '2026-01-03T00:00:00.000Z', 'c');
    fakeRun(ws, 'screen-d', 'screen', 'done', '2026-01-04T00:00:00.000Z', 'd');
    const latest = readShiftResults(ws)!;
    assert.equal(latest.runId, 'shift-b');
    assert.equal(latest.base, 'b');
    assert.deepEqual(latest.rows[0], { model: 'ft', trait: 'evil', layer: 1, shift: 0.5, expression: 12, coherence: 90, r: 0.9 });
    assert.equal(readShiftResults(ws, 'shift-a')!.base, 'a');
    assert.equal(readShiftResults(ws, 'shift-c'), null, 'a failed run has no results to show');
  } finally { rmSync(tmp, { recursive: true, force: true }); }
});
