/** withRun (src/core/jobs/run.ts): the one run lifecycle every job uses — id from the config, status, judge usage over restarts. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { withRun } from '../../src/core/jobs/run.js';
import type { Judge, JudgeUsage } from '../../src/core/judge/types.js';
import { RunStore } from '../../src/core/storage/run.js';
import { Workspace } from '../../src/core/storage/workspace.js';

/** A judge whose usage the test advances by hand. */
function countingJudge(): Judge & { spend(n: number): void } {
  const u: JudgeUsage = { requests: 0, cached: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };
  return { id: 'test', score: async () => [], usage: () => ({ ...u }), spend: (n) => { u.requests += n; u.promptTokens += 10 * n; u.costUsd += 0.5 * n; } };
}

const manifest = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));

test('a run: default id from the config hash, results.json and the manifest record the run\'s own judge usage, summed over restarts', async (t) => {
  const ws = new Workspace(mkdtempSync(path.join(os.tmpdir(), 'pl-run-')));
  t.after(() => rmSync(ws.root, { recursive: true, force: true }));
  const judge = countingJudge();
  judge.spend(7); // another run's usage in the same session is not this run's
  const config = { stage: 'evaluate', trait: 'evil', seed: 1 };
  const spec = { ws, kind: 'evaluate' as const, label: 'toy-persona-main-evil', config, judge };
  await assert.rejects(withRun(spec, async () => { judge.spend(2); throw new Error('worker died'); }), /worker died/);
  const id = RunStore.defaultRunId('evaluate', 'toy-persona-main-evil', config);
  assert.match(id, /^evaluate-toy-persona-main-evil-[0-9a-f]{12}$/);
  let m = manifest(ws.runDir(id));
  assert.equal(m.status, 'failed');
  assert.equal(m.message, 'worker died');
  assert.equal(m.judgeUsage.requests, 2);

  const { run, value } = await withRun(spec, async (r) => { judge.spend(3); return { value: 42, results: { x: 1 }, outputs: { combined: r.path('combined.csv') } }; });
  assert.equal(value, 42);
  assert.equal(run.runId, id);
  m = manifest(run.dir);
  assert.equal(m.status, 'done');
  assert.equal(m.message, undefined);
  assert.equal(m.starts, 2);
  assert.deepEqual(m.judgeUsage, { requests: 5, cached: 0, promptTokens: 50, completionTokens: 0, costUsd: 2.5 });
  assert.deepEqual(JSON.parse(readFileSync(run.path('results.json'), 'utf8')), { x: 1, judgeUsage: m.judgeUsage });
});

test('a run stopped through its signal is cancelled, not failed; a job without a judge records no judge usage', async (t) => {
  const ws = new Workspace(mkdtempSync(path.join(os.tmpdir(), 'pl-run-')));
  t.after(() => rmSync(ws.root, { recursive: true, force: true }));
  const ac = new AbortController();
  const spec = { ws, kind: 'screen' as const, label: 'm-r-evil', config: { stage: 'screen' }, runId: 'screen-1', signal: ac.signal };
  await assert.rejects(withRun(spec, async () => { ac.abort(); throw new Error('cancelled'); }));
  assert.equal(manifest(ws.runDir('screen-1')).status, 'cancelled');
  await withRun(spec, async () => ({ value: null, results: {}, outputs: {}, status: 'not-extractable', message: 'too few pairs' }));
  const m = manifest(ws.runDir('screen-1'));
  assert.equal(m.status, 'not-extractable');
  assert.equal(m.message, 'too few pairs');
  assert.equal(m.judgeUsage, undefined);
});
