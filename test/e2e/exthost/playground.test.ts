/**
 * Steering Playground, in the extension host against the installed extension: a real sycophantic vector is
 * extracted on the toy model with the Extract command, then the playground command opens the webview with a
 * preset, the webview sends its form, the worker generates baseline and steered answers in one request, and the
 * webview reports what it drew. Nothing is stubbed.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeVectorFile } from '../../../src/core/vectors/file.js';
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

describe('Steering Playground', function () {
  this.timeout(120_000);
  let api: PersonaLabApi;
  let dataDir: string;
  let toyMain: string;

  before(async () => {
    api = await extension().activate();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the suite needs an open workspace folder');
    dataDir = path.join(folder.uri.fsPath, '.persona-lab');
    toyMain = path.join(extension().extensionPath, 'models', 'toy-persona', 'revisions', 'main');
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

    const out = await open({ vector: 'sycophantic', prompt: PROMPT, layer: 4, coef: 4, n: 4, seed: 0 });
    assert.ok(out?.run, `no generation: ${out?.error ?? 'the command returned nothing (see the Persona Lab log)'}`);
    const { run } = out;
    assert.equal(out.model, 'toy-persona');
    assert.deepEqual(out.form, { prompt: PROMPT, vector: extracted!.vectorPath, layer: 4, coef: 4, n: 4, seed: 0, temperature: 0.8, maxTokens: 80 },
      'the webview drew the defaults (toy sampler preset) under the preset');
    assert.equal(run.cancelled, false);
    assert.equal(run.trait, 'sycophantic');
    assert.deepEqual(run.rendered, { baseline: 4, steered: 4, means: 2, streamed: 8, applied: 4 },
      'the webview drew 4 answers per column and both means, each answer\'s streamed tokens add up to its final text, and every steered answer shows the norm applied');
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
    const zero = await open({ vector: 'sycophantic', prompt: PROMPT, layer: 4, coef: 0, n: 4, seed: 0 });
    assert.ok(zero?.run, `no generation: ${zero?.error}`);
    assert.deepEqual(zero.run.steered.map((a) => a.text), zero.run.baseline.map((a) => a.text));
    assert.deepEqual(zero.run.steered[0].applied, [{ layer: 4, norm: 0, tokens: 0 }], 'coef 0 is allowed and shown as nothing added');
    assert.deepEqual(zero.run.baseline.map((a) => a.text), run.baseline.map((a) => a.text));
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
    assert.equal(out.form.vector, path.join(dataDir, 'vectors', 'toy-persona', 'main', 'sycophantic.safetensors'));
    assert.equal(out.run, undefined, 'no prompt: the panel only opens');
  });

  it('refuses a vector made for another model with the shape message, in the panel', async () => {
    const file = path.join(dataDir, 'vectors', 'toy-persona', 'main', 'other-model.safetensors');
    mkdirSync(path.dirname(file), { recursive: true });
    writeVectorFile(file, { layers: 3, hidden: 16, data: { response_avg: new Float32Array(3 * 16).fill(0.1) }, metadata: { trait: 'other-model' } });
    const out = await open({ vector: 'other-model', prompt: PROMPT, layer: 2, coef: 4, n: 2 });
    assert.ok(out, 'the command returned nothing (see the Persona Lab log)');
    assert.equal(out.run, undefined);
    assert.match(out.error ?? '', /other-model\.safetensors is \[3, 16\] but toy-persona@main takes \[5, 128\].*made for a different model/);
  });
});
