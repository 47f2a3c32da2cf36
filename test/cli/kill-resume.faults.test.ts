/**
 * Long runs lose nothing: an extraction, a grid and a checkpoint sweep on the toy model, each SIGKILLed at seeded
 * random points — the CLI process (its worker goes with it) or the worker alone — and rerun with the same command
 * until one start finishes. Then:
 *   - every output file equals the uninterrupted reference run's byte for byte (JSONL logs as sets of lines: the
 *     order of records within a resumed log may differ; manifests compared without times, start counts and usage);
 *   - no generation or judgement is duplicated on disk;
 *   - no recorded generation was redone: the worker ledger (test/helpers/counting-worker.ts) counts the rows sent to
 *     the worker per start, which is at most what was missing at that start (plus nothing for the final start);
 *   - no recorded judgement was redone: the final start's judge usage is exactly the judgements missing at its start;
 *   - after one kill a torn last line is planted in generations.jsonl; the resume repairs it and says so on stderr.
 * Reduced counts by default (2 kills per job); PERSONA_LAB_FAULTS_FULL=1 for 10 kills each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prng } from '../helpers/fault-judge-server.js';

const FULL = process.env.PERSONA_LAB_FAULTS_FULL === '1';
const KILLS = Number(process.env.PERSONA_LAB_FAULTS_KILLS ?? (FULL ? 10 : 2));
const root = path.resolve(import.meta.dirname, '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const available = existsSync(path.join(MODEL, 'config.json'));
const WORKER = path.join(root, 'test', 'helpers', 'counting-worker.ts');

interface Exit { code: number | null; signal: string | null; stdout: string; stderr: string }

function startCli(args: string[], ws: string, ledger: string) {
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), ...args, '--workspace', ws], {
    cwd: root, env: { ...process.env, PERSONA_LAB_WORKER: WORKER, PERSONA_LAB_FAULTS_WORKER_LOG: ledger, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  let stdout = '', stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Exit>((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { p, done };
}

/** Complete lines (a torn tail, with no newline after it, is not a record). */
const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(0, -1).filter(Boolean) : []);
const runDirs = (ws: string) => (existsSync(path.join(ws, 'runs')) ? readdirSync(path.join(ws, 'runs')).map((r) => path.join(ws, 'runs', r)) : []);
/** Durable records in every run folder of a workspace: generations, judgements. */
function onDisk(ws: string): { gen: number; judge: number } {
  let gen = 0, judge = 0;
  for (const d of runDirs(ws)) { gen += lines(path.join(d, 'generations.jsonl')).length; judge += lines(path.join(d, 'judgements.jsonl')).length; }
  return { gen, judge };
}
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const ledgerOf = (f: string) => lines(f).map((l) => JSON.parse(l) as { pid: number; event: 'start' | 'generate'; rows?: number });

/** Judge requests recorded in a workspace's manifests: a sweep's manifest covers its stages' runs, else their sum. */
function judgedOf(ws: string): number {
  const manifests = runDirs(ws).map((d) => JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8')));
  const sweep = manifests.filter((m) => m.kind === 'sweep');
  return (sweep.length ? sweep : manifests).reduce((s, m) => s + (m.judgeUsage?.requests ?? 0), 0);
}

function walk(dir: string, base = dir, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) walk(p, base, out); else out.push(path.relative(base, p));
  }
  return out.sort();
}

/** What must not differ between the reference and the resumed workspace, per file. */
function comparable(ws: string, rel: string): unknown {
  const file = path.join(ws, rel);
  const name = path.basename(file);
  // Outputs name absolute paths inside the workspace: compare them relative to it.
  const json = (f: string) => JSON.parse(readFileSync(f, 'utf8').split(ws).join('<workspace>'));
  if (name.endsWith('.jsonl')) return lines(file).sort();
  if (name === 'manifest.json') {
    const { createdAt, updatedAt, starts, judgeUsage, environment, ...rest } = json(file);
    void createdAt; void updatedAt; void starts; void judgeUsage; void environment;
    return rest;
  }
  if (name === 'results.json') {
    const strip = (v: unknown): unknown => Array.isArray(v) ? v.map(strip) : v && typeof v === 'object'
      ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'judgeUsage').map(([k, x]) => [k, strip(x)])) : v;
    return strip(json(file));
  }
  return readFileSync(file).toString('base64');
}

interface Figures { job: string; kills: number; cliKills: number; workerKills: number; missed: number; starts: number; identical: boolean; rowsSent: number; rowsTotal: number; judged: number; lostJudgements: number; duplicates: number; repairs: number }
const figures: Figures[] = [];

async function killAndResume(t: { diagnostic: (s: string) => void }, job: string, args: string[], seed: number, prepare?: (ws: string) => void): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `pl-kill-${job}-`));
  try {
    // 1. The uninterrupted reference.
    const wsA = path.join(tmp, 'ref'), ledA = path.join(tmp, 'ref.ledger');
    prepare?.(wsA);
    const a = await startCli(args, wsA, ledA).done;
    assert.equal(a.code, 0, `${job} reference run failed: ${a.stderr}`);
    const total = onDisk(wsA);
    const totalLines = total.gen + total.judge;
    assert.equal(judgedOf(wsA), total.judge, 'the reference judges each (row, metric) once, by its manifests');
    const rowsRef = ledgerOf(ledA).filter((e) => e.event === 'generate').reduce((s, e) => s + e.rows!, 0);
    assert.equal(rowsRef, total.gen, 'the reference sends each row to the worker once');

    // 2. Kills at seeded points of durable progress (plus a seeded delay, so some land mid-batch or mid-write).
    const rnd = prng(seed);
    const targets = Array.from({ length: KILLS }, () => Math.floor(rnd() * totalLines)).sort((x, y) => x - y);
    const wsB = path.join(tmp, 'b'), ledB = path.join(tmp, 'b.ledger');
    prepare?.(wsB);
    let cliKills = 0, workerKills = 0, missed = 0, starts = 0, repairs = 0, planted = false;
    let rowsSent = 0;
    const runStart = async (target: number | null, who: 'cli' | 'worker', delayMs: number): Promise<Exit & { before: { gen: number; judge: number } }> => {
      const before = onDisk(wsB);
      const ledgerBefore = ledgerOf(ledB).length;
      starts++;
      const r = startCli(args, wsB, ledB);
      let killed = false;
      if (target !== null) {
        const timer = setInterval(() => {
          const d = onDisk(wsB);
          if (killed || d.gen + d.judge < target) return;
          // The kill needs a live worker of this start when it is the worker's turn.
          const workers = ledgerOf(ledB).slice(ledgerBefore).filter((e) => e.event === 'start' && alive(e.pid));
          if (who === 'worker' && workers.length === 0) return;
          killed = true; clearInterval(timer);
          setTimeout(() => {
            if (who === 'cli') { r.p.kill('SIGKILL'); return; }
            // The worker may have finished its last request and exited during the delay: then the kill missed
            // (the start ends with exit 0 and is counted as missed below), not an error of the test.
            try { process.kill(workers[workers.length - 1].pid, 'SIGKILL'); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; }
          }, delayMs);
        }, 5);
        void r.done.then(() => clearInterval(timer));
      }
      const exit = await r.done;
      // Rows this start sent to the worker, against what it lacked at its start.
      const sent = ledgerOf(ledB).slice(ledgerBefore).filter((e) => e.event === 'generate').reduce((s, e) => s + e.rows!, 0);
      const after = onDisk(wsB);
      rowsSent += sent;
      // Rows sent = rows recorded by this start + at most the request in flight at the kill (never a recorded one).
      const inFlight = sent - (after.gen - before.gen);
      assert.ok(inFlight >= 0, `${job}: fewer rows sent than recorded?`);
      if (exit.code === 0) assert.equal(inFlight, 0, `${job}: the finishing start sent ${sent} rows for ${after.gen - before.gen} missing ones`);
      else assert.ok(inFlight <= 8 * 2, `${job}: a killed start sent ${inFlight} rows it never recorded (more than the requests in flight)`);
      if (/repaired a torn last line/.test(exit.stderr)) repairs++;
      return { ...exit, before };
    };
    const first = rnd() < 0.5 ? 0 : 1;
    for (const [i, target] of targets.entries()) {
      // Alternating, from a seeded first: the CLI (its worker goes with it), then the worker alone.
      const who = (i + first) % 2 === 0 ? 'cli' : 'worker';
      const r = await runStart(target, who, Math.floor(rnd() * 300));
      if (r.code === 0) { missed++; break; } // finished before the kill point: nothing left to kill
      if (who === 'cli') { assert.equal(r.signal, 'SIGKILL'); cliKills++; } else {
        workerKills++;
        assert.equal(r.code, 1, `${job}: the CLI exits 1 when its worker dies: ${r.stderr}`);
        assert.match(r.stderr, /worker|died|exit/i, 'the CLI says its worker died');
        assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
      }
      // Workers of a killed CLI go with it (IPC disconnect): none may be left running.
      const deadline = Date.now() + 10_000;
      while (ledgerOf(ledB).some((e) => e.event === 'start' && alive(e.pid)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      assert.ok(!ledgerOf(ledB).some((e) => e.event === 'start' && alive(e.pid)), `${job}: a worker outlived its killed CLI`);
      if (!planted) {
        // A crash mid-append leaves a torn last line; plant one where the resume will read it.
        const g = runDirs(wsB).map((d) => path.join(d, 'generations.jsonl')).find((f) => existsSync(f));
        if (g) { appendFileSync(g, '{"key":"torn-by-the-fault-suite","prompt":{"te'); planted = true; }
      }
    }
    // 3. Resume until done (one start, normally).
    let final = await runStart(null, 'cli', 0);
    for (let i = 0; final.code !== 0 && i < 2; i++) final = await runStart(null, 'cli', 0);
    assert.equal(final.code, 0, `${job}: the resumed run failed: ${final.stderr}`);
    if (planted) assert.ok(repairs >= 1, `${job}: the planted torn line was repaired and reported`);

    // 4. Same files as the reference, nothing duplicated, nothing re-judged by the final start.
    const filesA = walk(wsA), filesB = walk(wsB);
    assert.deepEqual(filesB, filesA, `${job}: the same files`);
    const differing = filesA.filter((f) => JSON.stringify(comparable(wsA, f)) !== JSON.stringify(comparable(wsB, f)));
    for (const f of differing.filter((x) => x.endsWith('.json'))) assert.deepEqual(comparable(wsB, f), comparable(wsA, f), `${job}: ${f}`);
    assert.deepEqual(differing, [], `${job}: files that differ from the uninterrupted run`);
    const end = onDisk(wsB);
    assert.deepEqual(end, total, 'no record lost or duplicated');
    let duplicates = 0;
    for (const d of runDirs(wsB)) {
      const g = lines(path.join(d, 'generations.jsonl')).map((l) => JSON.parse(l).key);
      const j = lines(path.join(d, 'judgements.jsonl')).map((l) => { const x = JSON.parse(l); return `${x.metric}|${x.key}`; });
      duplicates += g.length - new Set(g).size + j.length - new Set(j).size;
    }
    assert.equal(duplicates, 0);
    // Judge work: a run's manifest sums the judge usage of every start that ended (a worker kill ends it as failed; a
    // SIGKILLed CLI records nothing). Judging anything twice would push the sum past the judgements on disk; with no
    // CLI kill every start is counted and the sum must be exactly the number of judgements.
    const judged = judgedOf(wsB);
    if (cliKills === 0) assert.equal(judged, total.judge, `${job}: judge requests over all starts`);
    else assert.ok(judged <= total.judge, `${job}: ${judged} judge requests recorded for ${total.judge} judgements`);
    const f: Figures = { job, kills: cliKills + workerKills, cliKills, workerKills, missed, starts, identical: differing.length === 0, rowsSent, rowsTotal: total.gen, judged,
      lostJudgements: total.judge - end.judge, duplicates, repairs };
    figures.push(f);
    t.diagnostic(JSON.stringify(f));
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}

const COMMON = ['--chunk-size', '8', '--threads', '1', '--json'];

test('extraction: SIGKILL at random points, resumed → identical to an uninterrupted run', { timeout: FULL ? 3_600_000 : 900_000 }, async (t) => {
  if (!available) { t.skip(`toy model not found at ${MODEL}`); return; }
  await killAndResume(t, 'extract', ['extract', '--trait', 'evil', '--samples', '1', '--max-questions', FULL ? '8' : '4', ...COMMON], 11);
});

test('grid: SIGKILL at random points, resumed → identical to an uninterrupted run', { timeout: FULL ? 3_600_000 : 900_000 }, async (t) => {
  if (!available) { t.skip(`toy model not found at ${MODEL}`); return; }
  // Full counts: 16 questions (192 durable lines), so the kill points leave work to kill: with 6 (56 lines) a start
  // finished inside the kill delay after the 7th kill (7 kills, 1 missed); with 16, 9 kills and the 10th, near the end, missed.
  await killAndResume(t, 'grid', ['grid', '--trait', 'sycophantic', '--layers', '3', '--coefs', '2,4', '--samples', '1', '--max-questions', FULL ? '16' : '3',
    '--vector', path.join(root, 'test', 'fixtures', 'vectors', 'toy-persona-main-sycophantic.safetensors'), ...COMMON], 12);
});

test('checkpoint sweep: SIGKILL at random points, resumed → identical to an uninterrupted run', { timeout: FULL ? 3_600_000 : 900_000 }, async (t) => {
  if (!available) { t.skip(`toy model not found at ${MODEL}`); return; }
  await killAndResume(t, 'sweep', ['sweep', '--trait', 'sycophantic', '--revisions', 'stage1-step550,main', '--max-questions', FULL ? '4' : '2', ...COMMON], 13);
});

test('figures', () => {
  const sum = (k: keyof Figures) => figures.reduce((s, f) => s + (f[k] as number), 0);
  console.log(`kill-resume figures: ${figures.length} jobs, kills ${sum('kills')} (cli ${sum('cliKills')}, worker ${sum('workerKills')}, missed ${sum('missed')}), ` +
    `starts ${sum('starts')}, identical ${figures.filter((f) => f.identical).length}/${figures.length}, rows sent ${sum('rowsSent')} for ${sum('rowsTotal')} rows, ` +
    `judge requests recorded ${sum('judged')}, judgements lost ${sum('lostJudgements')}, duplicates ${sum('duplicates')}, torn lines repaired ${sum('repairs')}`);
});
