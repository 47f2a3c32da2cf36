/**
 * Two processes on the same run: withRun holds `<run>/run.lock` (src/core/jobs/run.ts, on the shared lock of
 * src/core/storage/lock.ts). A second process is refused before it touches the run, with a message naming the holder
 * (pid, host, start time); a lock left by a dead process is taken over; a lock from another host is taken over only
 * once its heartbeat is stale. Last, CLI + CLI on the same extraction (the editor runs the same core job), the first
 * stopped with Ctrl-C once the second was refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RUN_LOCK_STALE_MS, withRun } from '../../../src/core/jobs/run.js';
import { PipelineError } from '../../../src/core/errors.js';
import { RunStore } from '../../../src/core/storage/run.js';
import { Workspace } from '../../../src/core/storage/workspace.js';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const spec = (ws: Workspace) => ({ ws, kind: 'evaluate' as const, label: 'lock-test', config: { lock: 1 } });
const idOf = (_ws: Workspace) => RunStore.defaultRunId('evaluate', 'lock-test', { lock: 1 });
const plant = (ws: Workspace, holder: { host: string; pid: number; at: string }, ageMs = 0) => {
  const dir = ws.runDir(idOf(ws));
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, 'run.lock');
  writeFileSync(f, JSON.stringify(holder));
  const t = new Date(Date.now() - ageMs);
  utimesSync(f, t, t);
  return f;
};
const done = async () => ({ value: 1, results: {}, outputs: {} });

test('a live holder: refused at once, naming pid, host and start time; the run is not touched', async (t) => {
  const ws = new Workspace(mkdtempSync(path.join(os.tmpdir(), 'pl-lock-')));
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  t.after(() => { other.kill('SIGKILL'); rmSync(ws.root, { recursive: true, force: true }); });
  const at = new Date().toISOString();
  plant(ws, { host: os.hostname(), pid: other.pid!, at });
  const t0 = Date.now();
  await assert.rejects(withRun(spec(ws), done), (e) => PipelineError.is(e, 'locked')
    && (e as Error).message.includes(`pid ${other.pid} on ${os.hostname()} since ${at}`) && /rerun the same command/.test((e as Error).message));
  assert.ok(Date.now() - t0 < 2000, 'no waiting');
  assert.equal(existsSync(path.join(ws.runDir(idOf(ws)), 'manifest.json')), false, 'the refused process wrote nothing');
});

test('a lock whose process died is taken over; the lock is gone when the run ends', async (t) => {
  const ws = new Workspace(mkdtempSync(path.join(os.tmpdir(), 'pl-lock-')));
  t.after(() => rmSync(ws.root, { recursive: true, force: true }));
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const f = plant(ws, { host: os.hostname(), pid: Number(dead.stdout), at: new Date().toISOString() });
  let during = '';
  await withRun(spec(ws), async () => { during = readFileSync(f, 'utf8'); return done(); });
  assert.equal(JSON.parse(during).pid, process.pid, 'held by this process while the job ran');
  assert.equal(existsSync(f), false, 'released');
  assert.deepEqual(readdirSync(ws.runDir(idOf(ws))).filter((n) => n.includes('lock')), [], 'nothing left aside');
});

test('another host: a fresh lock is respected, one without a heartbeat for the stale time is taken over', async (t) => {
  const ws = new Workspace(mkdtempSync(path.join(os.tmpdir(), 'pl-lock-')));
  t.after(() => rmSync(ws.root, { recursive: true, force: true }));
  plant(ws, { host: 'node-a.cluster', pid: 4242, at: '2026-01-01T00:00:00.000Z' });
  await assert.rejects(withRun(spec(ws), done), (e) => PipelineError.is(e, 'locked') && /pid 4242 on node-a\.cluster since 2026-01-01T00:00:00\.000Z/.test((e as Error).message));
  plant(ws, { host: 'node-a.cluster', pid: 4242, at: '2026-01-01T00:00:00.000Z' }, RUN_LOCK_STALE_MS + 60_000);
  const r = await withRun(spec(ws), done);
  assert.equal(r.value, 1);
});

test('CLI + CLI on the same extraction: the second is refused naming the first; Ctrl-C on the first releases the lock', { timeout: 300_000 }, async (t) => {
  if (!existsSync(path.join(MODEL, 'config.json'))) { t.skip(`toy model not found at ${MODEL}`); return; }
  const ws = mkdtempSync(path.join(os.tmpdir(), 'pl-lock-cli-'));
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const args = ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), 'extract', '--trait', 'evil', '--samples', '4', '--max-questions', '20',
    '--chunk-size', '8', '--threads', '1', '--workspace', ws];
  const run = (extra: string[] = []) => {
    const p = spawn(process.execPath, [...args, ...extra], { cwd: root });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.stdout.resume();
    return { p, done: new Promise<{ code: number | null; stderr: string }>((r) => p.on('close', (code) => r({ code, stderr }))) };
  };
  const first = run();
  // Wait until the first holds its run's lock.
  const lockFile = () => { const d = path.join(ws, 'runs'); if (!existsSync(d)) return ''; const [r] = readdirSync(d); return r ? path.join(d, r, 'run.lock') : ''; };
  while (!(lockFile() && existsSync(lockFile()))) {
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(first.p.exitCode, null, 'the first run ended before it was seen running');
  }
  const second = await run().done;
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, new RegExp(`is in use by pid ${first.p.pid} on ${os.hostname().replace(/[.]/g, '\\.')} since \\d{4}-`));
  assert.doesNotMatch(second.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(first.p.exitCode, null, 'the first run was still running when the second was refused');
  first.p.kill('SIGINT');
  const a = await first.done;
  assert.equal(a.code, 130, a.stderr);
  assert.equal(existsSync(lockFile()), false, 'a cancelled run releases its lock');
  t.diagnostic(second.stderr.trim().split('\n').pop()!);
});
