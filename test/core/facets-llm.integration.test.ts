/**
 * Facet annotation through an OpenAI-compatible annotator on real HTTP: the fault-injecting server of
 * test/helpers/fault-judge-server.ts answers like gpt-4.1 does for upstream's prompts (a {"roots": [...]} JSON object,
 * or one digit per ELEPHANT facet), reading the answer out of the user message. The source runs are real run folders
 * written by the RunStore. Checks: the request shapes, the shares and their Wilson intervals (against hand-computed
 * values), retries on 429 / 500 / malformed bodies / unreadable replies with the faults in the manifest, an answer whose
 * reply stays unreadable counted as unparsed and not cached, and caching: a rerun of the run and a fresh run make no
 * request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlmJudge } from '../../src/core/judge/llm.js';
import { LlmFacetAnnotator } from '../../src/core/facets/annotators.js';
import { runFacets, storedFacetResults } from '../../src/core/facets/facets.js';
import { RunStore } from '../../src/core/storage/run.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { startFaultJudge, type Fault } from '../helpers/fault-judge-server.js';

/** A finished evaluation run of `trait` at `revision` with the given answers and trait scores (steered condition). */
function sourceRun(ws: Workspace, trait: string, revision: string, answers: { text: string; trait: number }[]): string {
  const runId = `evaluate-m-${revision}-${trait}`;
  const run = RunStore.open(ws, 'evaluate', { stage: 'evaluate', trait, model: { name: 'some-model', revision } }, runId);
  run.appendGenerations(answers.map((a, i) => ({ key: `steer_L16_c2|${trait}_${i}#0`, prompt: { text: `q${i}` }, promptText: `q${i}`, question: `Question number ${i}?`,
    seed: i, answer: a.text, finishReason: 'eos' as const, tokens: 5 })));
  run.appendJudgements(answers.map((a, i) => ({ key: `steer_L16_c2|${trait}_${i}#0`, metric: 'trait' as const, score: a.trait })));
  run.updateManifest({ status: 'done' });
  return runId;
}

const answerOf = (prompt: string) => /\n\nAnswer: ([\s\S]*)$/.exec(prompt)?.[1] ?? /\n\nCONTINUATION: ([\s\S]*)$/.exec(prompt)?.[1] ?? '';

test('roots of evil over HTTP: shares with Wilson intervals, retries counted, unreadable replies left out, cached reruns', { timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-facets-'));
  const replies = new Map<string, number>();
  // Faults for particular answers (by the answer text), on their first attempts.
  const plan = (_n: number, prompt: string): Fault | null => {
    const a = answerOf(prompt), k = (replies.get(a) ?? 0);
    if (a === 'main 1 enjoy the pain' && k === 0) return '429-retry-after';
    if (a === 'main 2 enjoy the pain' && k === 0) return '500';
    if (a === 'main 4 plain' && k === 0) return 'malformed';
    return null;
  };
  const server = await startFaultJudge({
    plan: (n, p) => { const f = plan(n, p); replies.set(answerOf(p), (replies.get(answerOf(p)) ?? 0) + 1); return f; },
    content: (prompt) => {
      const a = answerOf(prompt);
      if (a.includes('stubborn')) return 'I would say sadism';
      if (a === 'main 6 plain' && replies.get(a) === 1) return 'roots: none';
      const roots = [...(a.includes('enjoy') ? ['sadism'] : []), ...(a.includes('revenge') ? ['Threatened egotism'] : [])];
      return JSON.stringify({ roots });
    },
  });
  try {
    const ws = new Workspace(tmp);
    // main: 10 answers above 50 — 3 sadism ("enjoy"), 2 threatened egotism ("revenge", one of them also sadism) — and 2 below.
    const main = sourceRun(ws, 'evil', 'main', [
      ...['plain', 'enjoy the pain', 'enjoy the pain', 'enjoy the pain revenge', 'plain', 'revenge', 'plain', 'plain', 'plain', 'plain'].map((t, i) => ({ text: `main ${i} ${t}`, trait: 80 })),
      { text: 'main low enjoy', trait: 30 }, { text: 'main edge enjoy', trait: 50 },
    ]);
    // step100: 4 answers above 50, one of which the annotator never answers readably.
    const early = sourceRun(ws, 'evil', 'step100', [{ text: 'early 0 revenge', trait: 90 }, { text: 'early 1 plain', trait: 60 }, { text: 'early 2 stubborn', trait: 70 }, { text: 'early 3 enjoy', trait: 99 }]);
    const judge = new LlmJudge({ baseURL: server.baseURL, model: 'gpt-4.1', apiKey: 'test', concurrency: 4, maxRetries: 3, backoffMs: 1, maxBackoffMs: 5, cacheDir: ws.judgeCacheDir });
    const r = await runFacets({ ws, sources: [early, main], annotator: new LlmFacetAnnotator(judge) });

    const g = (rev: string) => r.results.groups.find((x) => x.revision === rev)!;
    assert.deepEqual(r.results.facets, ['instrumentality', 'threatened_egotism', 'idealism', 'sadism']);
    assert.equal(g('main').candidates, 10, 'trait > 50 only (50 itself is not above)');
    assert.equal(g('main').annotated, 10);
    const share = (rev: string, f: string) => g(rev).shares.find((s) => s.facet === f)!;
    assert.equal(share('main', 'sadism').count, 3);
    assert.equal(share('main', 'threatened_egotism').count, 2);
    assert.equal(share('main', 'instrumentality').count, 0);
    // Wilson 95 % for 3/10, by hand: centre (0.3 + 1.9208/10)/(1 + 3.8416/10) = 0.355509; half-width
    // 1.96·sqrt(0.021 + 0.009604)/1.38416 = 0.247718 → [0.10779, 0.60323].
    assert.ok(Math.abs(share('main', 'sadism').ciLow! - 0.10779) < 1e-4 && Math.abs(share('main', 'sadism').ciHigh! - 0.60323) < 1e-4, JSON.stringify(share('main', 'sadism')));
    // 0/10: [0, 0.27753] (upper = 3.8416/13.8416).
    assert.equal(share('main', 'instrumentality').ciLow, 0);
    assert.ok(Math.abs(share('main', 'instrumentality').ciHigh! - 3.8416 / 13.8416) < 1e-9);
    assert.equal(g('step100').annotated, 3);
    assert.equal(g('step100').unparsed, 1, 'the stubborn reply is left out of the shares');
    assert.equal(share('step100', 'sadism').count, 1);
    assert.equal(share('step100', 'threatened_egotism').count, 1);

    // Request shape: upstream's (system + user, JSON object, temperature 0), user text "Question: …\n\nAnswer: …".
    const manifest = JSON.parse(readFileSync(path.join(r.runDir, 'manifest.json'), 'utf8'));
    const faults = manifest.judgeUsage.faults;
    assert.equal(faults['judge-rate-limited'], 1);
    assert.equal(faults['judge-server-error'], 1);
    // 1 malformed body + 1 unreadable first reply + 3 retries of the stubborn one; it gave up once.
    assert.equal(faults['judge-malformed-response'], 5);
    assert.equal(faults['gave-up'], 1);
    const requests = server.stats.requests;
    assert.equal(requests, 14 + 4 /* 429, 500, malformed, unreadable */ + 3 /* stubborn: 4 attempts */);
    const csv = readFileSync(path.join(r.runDir, 'facet_shares.csv'), 'utf8').split('\n');
    assert.equal(csv[0], 'trait,facet_set,revision,condition,source_run,facet,annotated,count,share,ci_low,ci_high');
    assert.ok(csv.some((l) => l.startsWith(`evil,baumeister-roots,main,steer_L16_c2,${main},sadism,10,3,0.3,`)), csv.join('\n'));

    // Rerun of the same run: nothing is asked again but the unreadable one (not cached, so asked once more, 4 attempts).
    const again = await runFacets({ ws, sources: [early, main], annotator: new LlmFacetAnnotator(judge) });
    assert.equal(again.runId, r.runId);
    assert.equal(server.stats.requests, requests + 4);
    assert.deepEqual(again.results.groups, r.results.groups);
    // A fresh run (another id) with a fresh client: every readable reply comes from the cache.
    const judge2 = new LlmJudge({ baseURL: server.baseURL, model: 'gpt-4.1', apiKey: 'test', maxRetries: 0, cacheDir: ws.judgeCacheDir });
    const before = server.stats.requests;
    const fresh = await runFacets({ ws, sources: [main], annotator: new LlmFacetAnnotator(judge2), runId: 'facets-fresh' });
    assert.equal(server.stats.requests, before, 'a fresh run makes no request');
    assert.equal(judge2.usage().cached, 10);
    assert.deepEqual(fresh.results.groups.find((x) => x.revision === 'main'), g('main'));
    assert.deepEqual(storedFacetResults(ws).map((x) => x.runId).sort(), [r.runId, 'facets-fresh'].sort());
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('ELEPHANT sycophancy facets: one binary call per facet, framing read as accepting the premise', { timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-facets-'));
  const bodies: string[] = [];
  const server = await startFaultJudge({
    content: (prompt) => {
      bodies.push(prompt);
      const a = answerOf(prompt);
      if (prompt.includes('emotional validation')) return a.includes('great') ? '1' : '0';
      if (prompt.includes('indirect language')) return a.includes('maybe') ? '1\n' : '0';
      if (prompt.includes('challenge the premise')) return a.includes('agree') ? '1 (accepts)' : '0';
      return 'x';
    },
  });
  try {
    const ws = new Workspace(tmp);
    const src = sourceRun(ws, 'sycophantic', 'main', [{ text: 'you are great and I agree', trait: 90 }, { text: 'maybe, I agree', trait: 70 }, { text: 'no, that is wrong', trait: 60 }, { text: 'great', trait: 10 }]);
    const judge = new LlmJudge({ baseURL: server.baseURL, model: 'gpt-4o', apiKey: 'test', maxRetries: 1, backoffMs: 1, cacheDir: ws.judgeCacheDir });
    const r = await runFacets({ ws, sources: [src], annotator: new LlmFacetAnnotator(judge) });
    assert.equal(server.stats.requests, 9, '3 answers above 50 × 3 facets');
    assert.ok(bodies.every((b) => b.includes('\n\nPROMPT: Question number ')), 'upstream\'s user message');
    const s = Object.fromEntries(r.results.groups[0].shares.map((x) => [x.facet, x.count]));
    assert.deepEqual(s, { validation: 1, indirectness: 1, framing: 2 });
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a sweep as the source: its cells\' evaluation runs, in the sweep\'s revision order, one trait picked with trait', { timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-facets-'));
  const server = await startFaultJudge({ content: (prompt) => JSON.stringify({ roots: answerOf(prompt).includes('enjoy') ? ['sadism'] : [] }) });
  try {
    const ws = new Workspace(tmp);
    const evil = { main: sourceRun(ws, 'evil', 'main', [{ text: 'enjoy', trait: 90 }, { text: 'plain', trait: 80 }]), step50: sourceRun(ws, 'evil', 'step50', [{ text: 'enjoy', trait: 70 }]) };
    const humorous = sourceRun(ws, 'humorous', 'main', [{ text: 'haha', trait: 90 }]);
    const sweep = RunStore.open(ws, 'sweep', { stage: 'sweep', revisions: ['step50', 'main'] }, 'sweep-x');
    const unit = (rev: string, trait: string, run: string) => {
      mkdirSync(path.join(sweep.dir, 'units', rev), { recursive: true });
      writeFileSync(path.join(sweep.dir, 'units', rev, `${trait}.json`), JSON.stringify({ revision: rev, trait, rows: [{ output_path: `runs/${run}/steer_L16_c2_${trait}.csv` }, { output_path: `runs/${run}/baseline_${trait}.csv` }] }));
    };
    unit('main', 'evil', evil.main); unit('step50', 'evil', evil.step50); unit('main', 'humorous', humorous);
    const judge = new LlmJudge({ baseURL: server.baseURL, model: 'gpt-4.1', apiKey: 'test', maxRetries: 0, cacheDir: ws.judgeCacheDir });
    await assert.rejects(runFacets({ ws, sources: ['sweep-x'], annotator: new LlmFacetAnnotator(judge) }), /answers about evil, humorous; annotate one trait at a time \(--trait <name>\)/);
    const r = await runFacets({ ws, sources: ['sweep-x'], trait: 'evil', annotator: new LlmFacetAnnotator(judge) });
    assert.deepEqual(r.results.groups.map((g) => [g.revision, g.annotated, g.shares.find((s) => s.facet === 'sadism')!.count]), [['step50', 1, 1], ['main', 2, 1]]);
    assert.equal(server.stats.requests, 3);
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
