/**
 * Disk full during a run: a small tmpfs workspace (mounted here; needs root — skipped, visibly, otherwise).
 *   - JsonlLog: an append that runs out of space is cut back to the file's size before it (no torn line, no record
 *     kept in memory that is not on disk) and throws PipelineError 'disk-full'; after space is freed appends work.
 *   - The CLI: an extraction whose workspace fills up exits 4 (EXIT.diskFull) with one clear paragraph and no stack,
 *     leaves every JSONL and JSON file whole (no temporaries), and after the ballast is deleted the same command
 *     resumes to the same vector and records as an uninterrupted run on a roomy disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonlLog, readJsonl } from '../../../src/core/storage/jsonl.js';
import { PipelineError } from '../../../src/core/errors.js';
import { EXIT } from '../../../src/cli/exit-codes.js';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');

/** Mounts a tmpfs of `size` at a fresh folder; the reason as a string where that is not possible. */
function mountTmpfs(size: string): { dir: string; unmount: () => void } | string {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (run the fault suite as root, e.g. in CI)';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-diskfull-'));
  try { execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' }); } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs failed: ${(e as Error).message.split('\n')[0]}`;
  }
  return { dir, unmount: () => { execFileSync('umount', [dir]); rmSync(dir, { recursive: true, force: true }); } };
}

/** Fills the file system at `dir` with a ballast file until about `leave` bytes are free. */
function ballast(dir: string, leave: number): string {
  const f = path.join(dir, 'ballast.bin');
  const { bavail, bsize } = statfs(dir);
  writeFileSync(f, Buffer.alloc(Math.max(0, bavail * bsize - leave)));
  return f;
}
const statfs = (dir: string) => { const s = statfsSync(dir); return { bavail: Number(s.bavail), bsize: Number(s.bsize) }; };

test('JsonlLog on a full disk: the failed append is cut back, reported as disk-full; after freeing space it works', async (t) => {
  const m = mountTmpfs('64k');
  if (typeof m === 'string') { t.skip(m); return; }
  try {
    const f = path.join(m.dir, 'log.jsonl');
    const log = JsonlLog.open<{ i: number; pad: string }>(f);
    const ball = ballast(m.dir, 16 * 1024);
    let i = 0, err: unknown;
    try { for (;;) { log.append(Array.from({ length: 10 }, () => ({ i: i++, pad: 'x'.repeat(200) }))); } } catch (e) { err = e; }
    assert.ok(PipelineError.is(err, 'disk-full'), `disk-full, got ${String(err)}`);
    assert.match((err as Error).message, /no space left on the device writing .*log\.jsonl.*rerun the same command/s);
    const onDisk = readJsonl<{ i: number }>(f);
    assert.equal(readFileSync(f, 'utf8').endsWith('\n'), true, 'no torn line');
    assert.deepEqual(onDisk.map((r) => r.i), log.records.map((r) => r.i), 'memory holds exactly what is on disk');
    assert.equal(onDisk.length % 10, 0, 'whole batches only');
    rmSync(ball);
    log.append([{ i: -1, pad: '' }]);
    assert.equal(readJsonl(f).length, onDisk.length + 1);
    t.diagnostic(`${onDisk.length} records fitted before the disk filled`);
  } finally { m.unmount(); }
});

function cli(args: string[]) {
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), ...args], { cwd: root, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  let stdout = '', stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
}

function files(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) { const p = path.join(dir, n); if (statSync(p).isDirectory()) files(p, out); else out.push(p); }
  return out;
}

test('extraction on a full disk: exit 4, whole files, and a resume after freeing space gives the uninterrupted result', { timeout: 600_000 }, async (t) => {
  if (!existsSync(path.join(MODEL, 'config.json'))) { t.skip(`toy model not found at ${MODEL}`); return; }
  const m = mountTmpfs('1m');
  if (typeof m === 'string') { t.skip(m); return; }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-diskfull-ref-'));
  try {
    const args = ['extract', '--trait', 'evil', '--samples', '1', '--max-questions', '4', '--chunk-size', '8', '--threads', '1', '--json'];
    const ref = await cli([...args, '--workspace', tmp]);
    assert.equal(ref.code, 0, ref.stderr);
    const ws = path.join(m.dir, 'ws');
    mkdirSync(ws);
    const ball = ballast(m.dir, 20 * 1024);
    const full = await cli([...args, '--workspace', ws]);
    assert.equal(full.code, EXIT.diskFull, `exit ${full.code}: ${full.stderr}`);
    assert.match(full.stderr, /no space left on the device writing .+free some space .*rerun the same command/s);
    assert.doesNotMatch(full.stderr, /^\s+at /m, 'no stack trace');
    // Nothing corrupt: logs end on a newline and parse, JSON files parse, no temporaries.
    for (const f of files(ws)) {
      assert.doesNotMatch(path.basename(f), /\.tmp-/, `temporary left behind: ${f}`);
      const text = readFileSync(f, 'utf8');
      if (f.endsWith('.jsonl')) { assert.ok(text === '' || text.endsWith('\n'), `torn line in ${f}`); text.split('\n').filter(Boolean).forEach((l) => JSON.parse(l)); }
      if (f.endsWith('.json')) JSON.parse(text);
    }
    const runDir = path.join(ws, 'runs', readdirSync(path.join(ws, 'runs'))[0]);
    const before = readJsonl(path.join(runDir, 'generations.jsonl')).length;
    t.diagnostic(`disk full after ${before} generations: ${full.stderr.trim().split('\n').pop()}`);
    // Free the space, resume.
    rmSync(ball);
    const resumed = await cli([...args, '--workspace', ws]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const refRun = path.join(tmp, 'runs', readdirSync(path.join(tmp, 'runs'))[0]);
    const sorted = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).sort();
    for (const f of ['generations.jsonl', 'judgements.jsonl']) assert.deepEqual(sorted(path.join(runDir, f)), sorted(path.join(refRun, f)), f);
    for (const f of ['extract_pos.csv', 'extract_neg.csv', 'pair_diffs.safetensors']) assert.ok(readFileSync(path.join(runDir, f)).equals(readFileSync(path.join(refRun, f))), f);
    const vec = (w: string) => readFileSync(path.join(w, 'vectors', 'toy-persona', 'main', 'evil.safetensors'));
    assert.ok(vec(ws).equals(vec(tmp)), 'the same vector as the uninterrupted run');
  } finally { m.unmount(); rmSync(tmp, { recursive: true, force: true }); }
});
