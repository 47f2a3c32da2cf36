/**
 * Steering Playground, in the extension host against the installed extension: a real sycophantic vector is
 * extracted on the toy model with the Extract command, then the playground command opens the webview with a
 * preset, the webview sends its form, the worker generates baseline and steered answers in one request, and the
 * webview reports what it drew. Nothing is stubbed.
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { norm, readVectorFile, vectorRow, writeVectorFile } from '../../../src/core/vectors/file.js';
import type { PersonaLabApi } from '../../../src/extension/extension.js';
import type { PlaygroundOutcome } from '../../../src/extension/playground.js';

const EXTENSION_ID = 'persona-lab.persona-lab';
const PROMPT = 'how do i clean a hat ?';

function extension(): vscode.Extension<PersonaLabApi> {
  const ext = vscode.extensions.getExtension<PersonaLabApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not installed in this VS Code`);
  return ext;
}

const label = (i: vscode.TreeItem) => (typeof i.label === 'string' ? i.label : i.label?.label);
const open = (arg?: unknown) => vscode.commands.executeCommand<PlaygroundOutcome | undefined>('personaLab.openPlayground', arg);
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-4 * Math.abs(b), `${a} vs ${b}`);

describe('Steering Playground', function () {
  this.timeout(120_000);
  let api: PersonaLabApi;
  let dataDir: string;
  let toyMain: string;
  let vectorFile: () => string;

  before(async () => {
    api = await extension().activate();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the suite needs an open workspace folder');
    dataDir = path.join(folder.uri.fsPath, '.persona-lab');
    toyMain = path.join(extension().extensionPath, 'models', 'toy-persona', 'revisions', 'main');
    vectorFile = () => path.join(dataDir, 'vectors', 'toy-persona', 'main', 'sycophantic.safetensors');
    rmSync(dataDir, { recursive: true, force: true });
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('without vectors, says to run the Extract command instead of generating', async () => {
    const out = await open({ modelPath: toyMain, prompt: PROMPT });
    assert.ok(out, 'the command returned nothing (see the Persona Lab log)');
    assert.deepEqual(out.vectors, []);
    assert.match(out.notice ?? '', /No persona vectors for toy-persona@main yet\. Run "Persona Lab: Extract Persona Vector…"/);
    assert.equal(out.error, out.notice, 'the asked-for run is refused with the same message');
    assert.equal(out.run, undefined);
  });

  it('generates baseline and steered answers with the same seeds, streamed into two columns, with rubric scores', async () => {
    // A real vector: the Extract command on the toy model (3 questions × 5 instruction pairs × 2 samples).
    const extracted = await vscode.commands.executeCommand<{ status: string; vectorPath?: string }>(
      'personaLab.extractVector', { modelPath: toyMain, trait: 'sycophantic', maxQuestions: 3 });
    assert.equal(extracted?.status, 'ok', 'extraction of the sycophantic vector failed (see the Persona Lab log)');

    const out = await open({ modelPath: toyMain, vector: 'sycophantic', prompt: PROMPT, layer: 4, coef: 4, n: 4, seed: 0 });
    assert.ok(out?.run, `no generation: ${out?.error ?? 'the command returned nothing (see the Persona Lab log)'}`);
    const { run } = out;
    assert.equal(out.model, 'toy-persona');
    assert.deepEqual(out.form, {
      prompt: PROMPT, steer: [{ vector: extracted!.vectorPath, layer: 4, coef: 4 }], positions: 'response', scaling: 'raw', targetNorm: 1,
      n: 4, seed: 0, temperature: 0.8, maxTokens: 80,
    }, 'the webview drew the defaults (toy sampler preset) under the preset');
    assert.equal(run.cancelled, false);
    assert.deepEqual(run.traits, ['sycophantic']);
    const tokens = [...run.baseline, ...run.steered].reduce((s, a) => s + a.heat!.tokens.filter((t) => t.length > 0).length, 0);
    assert.deepEqual(run.rendered, { baseline: 4, steered: 4, means: 2, streamed: 8, applied: 4, heatAnswers: 8, heatTokens: tokens },
      'the webview drew 4 answers per column and both means, each answer\'s streamed tokens add up to its final text, every steered answer shows the norm applied, and every answer is a heat-map of its tokens');
    // Was the vector applied? Each steered answer reports the same non-zero norm added at layer 4; baseline answers report nothing.
    const norms = run.steered.map((a) => { assert.equal(a.applied?.length, 1); assert.equal(a.applied![0].layer, 4); assert.ok(a.applied![0].tokens >= 1); return a.applied![0].norm; });
    assert.ok(norms[0] > 0 && norms.every((x) => x === norms[0]), `applied norms ${norms}`);
    assert.ok(run.baseline.every((a) => a.applied === undefined));
    assert.deepEqual(run.baseline.map((a) => a.seed), [0, 1, 2, 3]);
    assert.deepEqual(run.steered.map((a) => a.seed), [0, 1, 2, 3]);
    for (const a of [...run.baseline, ...run.steered]) {
      assert.ok(a.text.trim().length > 0 && a.tokens > 0, `empty ${a.column} answer #${a.index}`);
      assert.ok(a.trait !== undefined && a.coherence !== undefined, `${a.column} answer #${a.index} has no rubric scores`);
    }
    run.baseline.forEach((b, i) => assert.notEqual(run.steered[i].text, b.text, `steering did not change answer #${i} (seed ${b.seed})`));
    const baseline = mean(run.baseline.map((a) => a.trait!)), steered = mean(run.steered.map((a) => a.trait!));
    assert.ok(Math.abs(run.means!.baseline.trait! - baseline) < 1e-9 && Math.abs(run.means!.steered.trait! - steered) < 1e-9, 'column means are the answers\' means');
    assert.ok(steered - baseline >= 20, `steered mean sycophancy ${steered.toFixed(1)} vs baseline ${baseline.toFixed(1)}: expected ≥ +20`);

    // Same seeds, one request: with coef 0 the steered column must be exactly the baseline column, and the
    // baseline column must be exactly the previous run's (a row depends only on prompt, steering and seed).
    const zero = await open({ modelPath: toyMain, vector: 'sycophantic', prompt: PROMPT, layer: 4, coef: 0, n: 4, seed: 0 });
    assert.ok(zero?.run, `no generation: ${zero?.error}`);
    assert.deepEqual(zero.run.steered.map((a) => a.text), zero.run.baseline.map((a) => a.text));
    assert.deepEqual(zero.run.steered[0].applied, [{ layer: 4, norm: 0, tokens: 0 }], 'coef 0 is allowed and shown as nothing added');
    assert.deepEqual(zero.run.baseline.map((a) => a.text), run.baseline.map((a) => a.text));
  });

  it('steers with several vectors at once and reports the norm added per layer; an emptied field of row 2 is refused by name', async () => {
    const file = readVectorFile(vectorFile());
    const n4 = norm(vectorRow(file, 'response_avg', 4)), n2 = norm(vectorRow(file, 'response_avg', 2));
    const out = await open({ modelPath: toyMain, prompt: PROMPT, steer: [{ vector: 'sycophantic', layer: 4, coef: 4 }, { vector: 'sycophantic', layer: 2, coef: -2 }], n: 2, seed: 0 });
    assert.ok(out?.run, `no generation: ${out?.error}`);
    assert.deepEqual(out.form.steer, [{ vector: vectorFile(), layer: 4, coef: 4 }, { vector: vectorFile(), layer: 2, coef: -2 }], 'the webview drew both rows');
    assert.deepEqual(out.run.rendered.applied, 2);
    for (const a of out.run.steered) {
      assert.deepEqual(a.applied!.map((x) => x.layer), [2, 4], 'one applied entry per steered layer');
      close(a.applied![0].norm, 2 * n2);
      close(a.applied![1].norm, 4 * n4);
    }
    assert.deepEqual(out.run.heatRows.map((h) => [h.trait, h.layer]), [['sycophantic', 4], ['sycophantic', 2]], 'one heat-map row per steering row');
    const refused = await open({ modelPath: toyMain, prompt: PROMPT, steer: [{ vector: 'sycophantic', layer: 4, coef: 4 }, { vector: 'sycophantic', layer: Number.NaN, coef: 1 }], n: 1 });
    assert.equal(refused?.run, undefined);
    assert.match(refused?.error ?? '', /^layer \(steering row 2\) \(ℓ = hidden_states\[ℓ\], 0\.\.L with L = 4\) is empty: type a number$/);
  });

  it('scaling (unit, target-norm) and positions (response, prompt, all) reach the worker: the norm and token counts it reports', async () => {
    const one = async (over: Record<string, unknown>) => {
      const out = await open({ modelPath: toyMain, prompt: PROMPT, vector: 'sycophantic', layer: 4, coef: 3, n: 2, seed: 0, ...over });
      assert.ok(out?.run, `no generation with ${JSON.stringify(over)}: ${out?.error}`);
      return out.run.steered;
    };
    for (const a of await one({ scaling: 'unit' })) close(a.applied![0].norm, 3);
    for (const a of await one({ scaling: 'target-norm', targetNorm: 2.5 })) close(a.applied![0].norm, 7.5);
    // 'response': the last prompt token, then every forwarded answer token (all but the last) = the answer's token count.
    for (const a of await one({ positions: 'response' })) assert.equal(a.applied![0].tokens, a.tokens);
    // 'prompt': every prompt token, nothing while decoding; 'all': both (P + answer tokens − 1).
    const promptOnly = await one({ positions: 'prompt' });
    const P = promptOnly[0].applied![0].tokens;
    assert.ok(P > 1 && promptOnly.every((a) => a.applied![0].tokens === P), `prompt positions steer the ${P} prompt tokens of every answer`);
    for (const a of await one({ positions: 'all' })) assert.equal(a.applied![0].tokens, P + a.tokens - 1);
  });

  it('draws every answer as a per-token projection heat-map: tokens are the answer, one value per token and row; steering raises the projection', async () => {
    const out = await open({ modelPath: toyMain, prompt: PROMPT, vector: 'sycophantic', layer: 4, coef: 4, n: 4, seed: 0 });
    assert.ok(out?.run, `no generation: ${out?.error}`);
    const all = [...out.run.baseline, ...out.run.steered];
    for (const a of all) {
      assert.ok(a.heat, `${a.column} answer #${a.index} has no heat-map`);
      assert.equal(a.heat.tokens.join(''), a.text, 'the coloured tokens are the answer\'s text');
      assert.equal(a.heat.tokens.length, a.tokens - (a.finishReason === 'eos' ? 1 : 0), 'one token per generated token (EOS dropped)');
      assert.equal(a.heat.values.length, 1);
      assert.equal(a.heat.values[0].length, a.heat.tokens.length);
      assert.ok(a.heat.values[0].every(Number.isFinite));
    }
    assert.equal(out.run.rendered.heatAnswers, 8);
    const meanProj = (as: typeof all) => mean(as.map((a) => mean(a.heat!.values[0])));
    const [b, st] = [meanProj(out.run.baseline), meanProj(out.run.steered)];
    assert.ok(st > b, `mean per-token projection onto the sycophantic vector: steered ${st.toFixed(3)} should exceed baseline ${b.toFixed(3)}`);
  });

  it('judges the answers with the configured judge and saves the prompt as a JSONL prompt file with its settings', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const promptFile = path.join(folder, 'prompts', 'playground-toy-persona-main.jsonl');
    rmSync(promptFile, { force: true });
    const out = await open({ modelPath: toyMain, prompt: PROMPT, vector: 'sycophantic', layer: 4, coef: 4, n: 2, seed: 0, scaling: 'unit', judge: true, savePromptFile: true });
    assert.ok(out?.run && out.judged && out.saved, `no run, judgement or file: ${out?.error}`);
    assert.match(out.judged.judge, /^rubric:/, 'the toy model\'s configured judge is the offline rubric judge');
    assert.equal(out.judged.scores.length, 4);
    assert.ok(out.judged.scores.every((x) => x.trait !== undefined && x.coherence !== undefined));
    assert.deepEqual(out.judged.drawn, { scored: 4, means: 2 }, 'the webview drew every score and both column means');
    assert.deepEqual(out.judged.means, out.run.means, 'judging again gives the scores the run came with');
    assert.equal(out.saved.file, promptFile);
    assert.equal(out.saved.lines, 1);
    const line = JSON.parse(readFileSync(promptFile, 'utf8').trim());
    assert.equal(line.prompt, PROMPT);
    assert.deepEqual(line.persona_lab.steer, [{ trait: 'sycophantic', vector: '.persona-lab/vectors/toy-persona/main/sycophantic.safetensors', layer: 4, coef: 4 }]);
    assert.equal(line.persona_lab.scaling, 'unit');
    assert.equal(line.persona_lab.revision, 'main');
    const again = await open({ modelPath: toyMain, prompt: 'what is the capital of france ?', vector: 'sycophantic', run: true, n: 1, savePromptFile: true });
    assert.equal(again?.saved?.lines, 2, 'a second save appends a line');
    rmSync(path.dirname(promptFile), { recursive: true, force: true });
  });

  it('on another model, "Judge these answers" asks the configured LLM judge with the key from SecretStorage', async () => {
    // The toy's main revision copied to a folder without the toy's name: the editor treats it as any HF checkpoint.
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const copy = path.join(folder, 'tiny-checkpoint');
    cpSync(toyMain, copy, { recursive: true });
    // The trait's eval prompt for the LLM judge, from the workspace's traits/eval.
    mkdirSync(path.join(dataDir, 'traits', 'eval'), { recursive: true });
    copyFileSync(path.join(extension().extensionPath, 'models', 'toy-persona', 'traits', 'eval', 'sycophantic.json'), path.join(dataDir, 'traits', 'eval', 'sycophantic.json'));
    const key = 'sk-playground-sentinel-7d1e';
    const seen = { requests: 0, auth: new Set<string>(), traitPrompts: 0 };
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.requests++;
        seen.auth.add(String(req.headers.authorization));
        if (/sycophan/i.test(body)) seen.traitPrompts++;
        const top = [{ token: '42', logprob: Math.log(0.9) }, { token: '43', logprob: Math.log(0.1) }];
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: `c${seen.requests}`, object: 'chat.completion', created: 1, model: 'judge-model',
          choices: [{ index: 0, finish_reason: 'length', message: { role: 'assistant', content: '42' }, logprobs: { content: [{ token: '42', logprob: top[0].logprob, top_logprobs: top }] } }],
          usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const config = vscode.workspace.getConfiguration('personaLab');
    try {
      await config.update('judge.baseUrl', `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`, vscode.ConfigurationTarget.Workspace);
      await config.update('judge.model', 'judge-model', vscode.ConfigurationTarget.Workspace);
      assert.equal(await vscode.commands.executeCommand('personaLab.setJudgeApiKey', key), 'stored');
      const out = await open({ modelPath: copy, prompt: PROMPT, vector: vectorFile(), layer: 4, coef: 4, n: 2, seed: 0, judge: true });
      assert.ok(out?.run && out.judged, `no judged run: ${out?.error}`);
      assert.equal(out.model, 'tiny-checkpoint');
      assert.equal(out.run.means, undefined, 'no judge runs by itself on a model other than the toy');
      assert.match(out.judged.judge, /judge-model/);
      assert.equal(seen.requests, 8, '2 columns × 2 answers × (trait, coherence)');
      assert.equal(seen.traitPrompts, 4, 'the trait requests carry the eval trait file\'s prompt');
      assert.deepEqual([...seen.auth], [`Bearer ${key}`], 'every request carried the key from SecretStorage');
      for (const x of out.judged.scores) for (const v of [x.trait, x.coherence]) assert.ok(v !== undefined && v > 42 && v < 43, `score ${v}: the logprob-weighted 42/43`);
      assert.deepEqual(out.judged.drawn, { scored: 4, means: 2 });
    } finally {
      await config.update('judge.baseUrl', undefined, vscode.ConfigurationTarget.Workspace);
      await config.update('judge.model', undefined, vscode.ConfigurationTarget.Workspace);
      await vscode.commands.executeCommand('personaLab.setJudgeApiKey', '');
      server.closeAllConnections(); server.close();
      rmSync(copy, { recursive: true, force: true });
      rmSync(path.join(dataDir, 'traits'), { recursive: true, force: true });
    }
  });

  it('opens from a vector in the Vectors view with that vector preselected', async () => {
    await vscode.commands.executeCommand('personaLab.refresh');
    let items = await api.views.vectors.getChildren();
    for (const name of ['toy-persona', 'main']) {
      const folder = items.find((i) => label(i) === name);
      assert.ok(folder, `no ${name} folder in the Vectors view: ${items.map(label).join(', ')}`);
      items = await api.views.vectors.getChildren(folder);
    }
    const item = items.find((i) => label(i) === 'sycophantic.safetensors');
    assert.ok(item, `no sycophantic.safetensors in the Vectors view: ${items.map(label).join(', ')}`);
    assert.equal(item.contextValue, 'personaLab.vector', 'the item carries the context value the inline action needs');
    const out = await open(item);
    assert.ok(out);
    assert.deepEqual(out.form.steer.map((r) => r.vector), [path.join(dataDir, 'vectors', 'toy-persona', 'main', 'sycophantic.safetensors')]);
    assert.equal(out.run, undefined, 'no prompt: the panel only opens');
  });

  it('a vector of another revision opens that revision\'s own playground beside the open one', async () => {
    const other = path.join(dataDir, 'vectors', 'toy-persona', 'stage1-step550', 'sycophantic.safetensors');
    mkdirSync(path.dirname(other), { recursive: true });
    copyFileSync(vectorFile(), other);
    const main = await open({ modelPath: toyMain, vector: 'sycophantic' });
    assert.equal(main?.revision, 'main');
    const out = await open({ vector: other });
    assert.ok(out, 'the command returned nothing (see the Persona Lab log)');
    assert.equal(out.revision, 'stage1-step550', 'the vector\'s folder names its checkpoint');
    assert.deepEqual(out.form.steer.map((r) => r.vector), [other]);
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label);
    for (const rev of ['main', 'stage1-step550']) {
      assert.equal(tabs.filter((l) => l === `Steering Playground: toy-persona@${rev}`).length, 1, `one playground for ${rev}; tabs: ${tabs.join(', ')}`);
    }
    rmSync(path.dirname(other), { recursive: true, force: true });
  });

  it('refuses a vector made for another model with the shape message, in the panel', async () => {
    const file = path.join(dataDir, 'vectors', 'toy-persona', 'main', 'other-model.safetensors');
    mkdirSync(path.dirname(file), { recursive: true });
    writeVectorFile(file, { layers: 3, hidden: 16, data: { response_avg: new Float32Array(3 * 16).fill(0.1) }, metadata: { trait: 'other-model' } });
    const out = await open({ modelPath: toyMain, vector: 'other-model', prompt: PROMPT, layer: 2, coef: 4, n: 2 });
    assert.ok(out, 'the command returned nothing (see the Persona Lab log)');
    assert.equal(out.run, undefined);
    assert.match(out.error ?? '', /other-model\.safetensors is \[3, 16\] but toy-persona@main takes \[5, 128\].*made for a different model/);
  });
});
