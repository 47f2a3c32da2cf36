/**
 * The CLI's exit-code table (src/cli/exit-codes.ts): the mapping from error classes and reasons, and the
 * real CLI process — a bad command line exits 2, Ctrl-C during a run exits 130 and says "cancelled".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT, exitCodeFor } from '../../src/cli/exit-codes.js';
import { UsageError } from '../../src/cli/command.js';
import { PipelineError } from '../../src/core/errors.js';
import { ToyModelNotFoundError } from '../../src/core/toy/paths.js';
import { WorkerError } from '../../src/engine/client.js';
import { CheckpointError } from '../../src/engine/model/checkpoint.js';
import { SteerSpecError } from '../../src/engine/steering/steer.js';
import { WorkerErrorCodes } from '../../src/engine/protocol.js';
import { cli } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const TOY = path.join(root, 'models', 'toy-persona', 'revisions', 'main');

test('exit codes come from error classes and reasons, in one table', () => {
  assert.deepEqual(EXIT, { ok: 0, failure: 1, usage: 2, notExtractable: 3, diskFull: 4, cancelled: 130 });
  assert.equal(exitCodeFor(new UsageError('--trait is required')), 2);
  assert.equal(exitCodeFor(new CheckpointError('not-found', 'model folder /x does not exist')), 2);
  assert.equal(exitCodeFor(new CheckpointError('no-weights', 'no safetensors')), 1);
  assert.equal(exitCodeFor(new ToyModelNotFoundError(['/a'])), 2);
  assert.equal(exitCodeFor(new PipelineError('not-extractable', 'too few pairs')), 3);
  assert.equal(exitCodeFor(new PipelineError('judge-auth', 'bad key')), 1);
  // A bad or missing input is the user's to fix in a command that only reads its inputs (report, vectors import/export,
  // geometry); in a job the preflight makes it an InputError before any work, and mid-run it stays a failure.
  for (const reason of ['trait-invalid', 'data-invalid', 'vector-invalid', 'vector-missing'] as const) {
    for (const command of ['report', 'vectors import', 'vectors export', 'geometry']) assert.equal(exitCodeFor(new PipelineError(reason, 'bad input'), false, command), 2, `${command}: ${reason}`);
    assert.equal(exitCodeFor(new PipelineError(reason, 'mid-run'), false, 'grid'), 1, `grid mid-run: ${reason}`);
  }
  assert.equal(exitCodeFor(new PipelineError('run-mismatch', 'config differs'), false, 'report'), 1);
  assert.equal(exitCodeFor(new PipelineError('disk-full', 'no space left')), 4);
  assert.equal(exitCodeFor(new SteerSpecError('vector-shape', 'wrong H')), 1);
  assert.equal(exitCodeFor(new WorkerError(WorkerErrorCodes.Cancelled, 'cancelled')), 130);
  assert.equal(exitCodeFor(new DOMException('This operation was aborted', 'AbortError')), 130);
  assert.equal(exitCodeFor(new WorkerError(WorkerErrorCodes.WorkerDied, 'died')), 1);
  // Once Ctrl-C fired, whatever error the run unwinds with is a cancellation, not a failure.
  assert.equal(exitCodeFor(new Error('rubric judging cancelled'), true), 130);
  assert.equal(exitCodeFor(new Error('boom')), 1);
});

test('a bad command line exits 2 with the usage', { timeout: 60_000 }, async () => {
  const missing = await cli(['extract']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /--trait/);
  const unknown = await cli(['no-such-command']);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /Usage: persona-lab <command>/);
});

test('report and vectors import: bad input exits 2 and writes nothing', { timeout: 60_000 }, async (t) => {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'pl-exit-input-'));
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const report = await cli(['report', '--workspace', ws]);
  assert.equal(report.code, 2, report.stderr);
  assert.match(report.stderr, /no finished grid, controls, sweep, monitor or screen runs/);
  // A named run in a workspace with no runs: the message says there are none and how to get some, not "no finished runs".
  const named = await cli(['report', 'no-such-run', '--workspace', ws]);
  assert.equal(named.code, 2, named.stderr);
  assert.match(named.stderr, /no run no-such-run: this workspace .* has no runs yet.*persona-lab demo/);
  const bad = path.join(ws, 'not-a-control-vector.gguf');
  writeFileSync(bad, 'GGUF? no: a text file');
  const out = path.join(ws, 'imported.safetensors');
  const imp = await cli(['vectors', 'import', bad, '--out', out]);
  assert.equal(imp.code, 2, imp.stderr);
  assert.match(imp.stderr, /not a GGUF file/);
  assert.deepEqual(readdirSync(ws).sort(), ['not-a-control-vector.gguf'], 'no report folder, no vector file');
});

test('Ctrl-C during a run exits 130 and reports a cancellation, not a failure', { timeout: 120_000 }, async (t) => {
  if (!existsSync(path.join(TOY, 'config.json'))) { t.skip(`toy model not found at ${TOY}`); return; }
  const ws = mkdtempSync(path.join(os.tmpdir(), 'pl-sigint-'));
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'),
    'extract', '--trait', 'evil', '--samples', '2', '--threads', '1', '--workspace', ws], { cwd: root });
  let stderr = '';
  let sent = false;
  p.stdout.resume();
  p.stderr.on('data', (d) => {
    stderr += d;
    // Interrupt once generation is under way (the worker is loaded and busy).
    if (!sent && /generate \d+\/\d+/.test(stderr)) { sent = true; p.kill('SIGINT'); }
  });
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) => p.on('close', (c, s) => resolve({ code: c, signal: s })));
  assert.ok(sent, `the run never reported progress: ${stderr}`);
  assert.equal(signal, null, 'the CLI handles SIGINT itself (and stops its worker) instead of dying on it');
  assert.equal(code, 130, stderr);
  assert.match(stderr, /persona-lab extract: cancelled/);
  assert.doesNotMatch(stderr, /failed|Error:/);
});
