/**
 * Inline steering and monitoring (src/extension/inline) on the toy model, through the command API: Steer Selection on an
 * editor selection streams a baseline and a steered answer that differ, and Insert Steered Answer puts the steered one
 * after the selection; prompt files (JSONL and Markdown) get Generate · Steer · Monitor lenses, and Monitor/Steer set
 * decorations after each prompt; a broken trait file's diagnostics carry the JSON path of each error at that field; a
 * screened chat JSONL shows one ΔP decoration per sample, and Export above a threshold writes exactly those samples.
 * personaLab.inlineState (a test hook) reports a document's decorations, diagnostics and lens titles as the editor gets them.
 */
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PersonaLabApi } from '../../../src/extension/extension.js';

const ext = () => vscode.extensions.getExtension<PersonaLabApi>('persona-lab.persona-lab')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface InlineState { prompts: { line: number; text: string }[]; screening: { line: number; text: string; color: string }[]; diagnostics: { line: number; path: string; message: string }[]; lenses: string[] }
const state = (uri: vscode.Uri) => vscode.commands.executeCommand<InlineState>('personaLab.inlineState', uri.toString());

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('Inline steering and monitoring (toy model)', function () {
  this.timeout(600_000);
  let root: string;
  let dataDir: string;
  let toyMain: string;
  let work: string;
  const steering = () => ({ modelPath: toyMain, trait: 'evil', layer: 4, coef: 6 });

  before(async function () {
    await ext().activate();
    root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    dataDir = path.join(root, '.persona-lab');
    toyMain = path.join(ext().extensionPath, 'models', 'toy-persona', 'revisions', 'main');
    if (!existsSync(toyMain)) this.skip();
    work = path.join(root, 'inline-test');
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    if (!existsSync(path.join(dataDir, 'vectors', 'toy-persona', 'main', 'evil.safetensors'))) {
      const ex = await vscode.commands.executeCommand<{ status: string }>('personaLab.extractVector', { modelPath: toyMain, trait: 'evil', maxQuestions: 3 });
      assert.equal(ex?.status, 'ok');
    }
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('Steer Selection: the selection is the prompt; baseline and steered answers differ; the steered one is inserted after it', async () => {
    const file = path.join(work, 'notes.md');
    const prompt = 'How should I treat people who disagree with me?';
    writeFileSync(file, `# Notes\n\n${prompt}\n\nMore text.\n`);
    const editor = await vscode.window.showTextDocument(vscode.Uri.file(file));
    editor.selection = new vscode.Selection(2, 0, 2, prompt.length);
    const out = await vscode.commands.executeCommand<{ document: string; prompt: string; baseline: string; steered: string; applied?: { layer: number; norm: number; tokens: number }[] }>(
      'personaLab.steerSelection', steering());
    assert.ok(out, 'no outcome');
    assert.equal(out.prompt, prompt);
    assert.ok(out.baseline.length > 0 && out.steered.length > 0, 'empty answers');
    assert.notEqual(out.steered, out.baseline, 'steering changed nothing');
    assert.equal(out.applied?.[0].layer, 4);
    assert.ok((out.applied?.[0].norm ?? 0) > 0 && (out.applied?.[0].tokens ?? 0) > 0, JSON.stringify(out.applied));
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === out.document);
    assert.ok(doc, 'the result document is not open');
    // The editor re-reads a virtual document asynchronously after its provider says it changed.
    const text = await until('the finished result document', () => (doc.getText().includes('applied ‖Δ‖') ? doc.getText() : undefined)).catch(() => doc.getText());
    for (const s of ['model toy-persona', 'revision main', 'vector evil', 'layer 4', 'coef 6', 'applied ‖Δ‖', '## Baseline', '## Steered']) assert.ok(text.includes(s), `header lacks "${s}":\n${text}`);
    assert.ok(text.includes(out.steered.trim().split('\n')[0]), 'the steered answer is not in the document');
    assert.ok((await state(doc.uri)).lenses.some((t) => /Insert steered answer/.test(t)), 'no Insert lens on the result');
    const inserted = await vscode.commands.executeCommand<string>('personaLab.insertSteeredAnswer', out.document);
    assert.ok(inserted?.includes(out.steered.trim()));
    const source = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file)!;
    const after = source.getText();
    assert.ok(after.indexOf(out.steered.trim()) > after.indexOf(prompt), 'the answer is not after the selection');
    await source.save();
  });

  it('prompt files: JSONL and Markdown get Generate · Steer · Monitor lenses per prompt and for the file', async () => {
    const jsonl = path.join(work, 'prompts.jsonl');
    writeFileSync(jsonl, '{"prompt": "What do you think of your neighbours?"}\n{"messages": [{"role": "user", "content": "Give me advice about my boss."}]}\n');
    const md = path.join(work, 'prompts.md');
    writeFileSync(md, '# Prompts\n\n```prompt\nWhat should I do about a rude coworker?\n```\n\n```js\nconsole.log(1)\n```\n');
    const j = await state(vscode.Uri.file(jsonl));
    assert.deepEqual(j.lenses.filter((t) => /all \(2\)/.test(t)).length, 3, j.lenses.join(' | '));
    assert.deepEqual(j.lenses.filter((t) => t === 'Monitor').length, 2);
    const m = await state(vscode.Uri.file(md));
    assert.deepEqual(m.lenses.filter((t) => ['Generate', 'Steer', 'Monitor'].includes(t)), ['Generate', 'Steer', 'Monitor'], m.lenses.join(' | '));
    const none = path.join(work, 'plain.md');
    writeFileSync(none, '# Nothing to run\n\n```js\n1\n```\n');
    assert.deepEqual((await state(vscode.Uri.file(none))).lenses, []);
  });

  it('Monitor on a prompt file sets a projection decoration after each prompt; Steer on one prompt adds baseline → steered', async () => {
    const jsonl = vscode.Uri.file(path.join(work, 'prompts.jsonl'));
    await vscode.window.showTextDocument(jsonl);
    const out = await vscode.commands.executeCommand<{ runDir: string; outcomes: { projection?: number }[]; decorations: { line: number; text: string }[] }>(
      'personaLab.runPrompts', { uri: jsonl.toString(), action: 'monitor', ...steering() });
    assert.ok(out, 'no outcome');
    assert.equal(out.outcomes.length, 2);
    assert.ok(out.outcomes.every((o) => Number.isFinite(o.projection)), JSON.stringify(out.outcomes));
    assert.deepEqual(out.decorations.map((d) => d.line), [0, 1]);
    for (const d of out.decorations) assert.match(d.text, /^projection -?\d+\.\d\d \(ℓ4\) · evil \d+ · coherence \d+$/);
    assert.deepEqual((await state(jsonl)).prompts, out.decorations, 'the editor does not show the returned decorations');
    const m = JSON.parse(readFileSync(path.join(out.runDir, 'manifest.json'), 'utf8')) as { kind: string; status: string };
    assert.deepEqual([m.kind, m.status], ['evaluate', 'done']);
    assert.ok((await state(jsonl)).lenses.includes('$(table) Open Judge Results'));

    const md = vscode.Uri.file(path.join(work, 'prompts.md'));
    const s = await vscode.commands.executeCommand<{ decorations: { line: number; text: string }[]; outcomes: { baseline: { answer: string }; steered?: { answer: string } }[] }>(
      'personaLab.runPrompts', { uri: md.toString(), action: 'steer', index: 0, ...steering() });
    assert.ok(s);
    assert.equal(s.decorations.length, 1);
    assert.equal(s.decorations[0].line, 4, 'after the closing fence');
    assert.match(s.decorations[0].text, /^evil \d+ → \d+ \(ℓ4, c6\) · coherence \d+ → \d+$/);
    assert.notEqual(s.outcomes[0].steered?.answer, s.outcomes[0].baseline.answer);
  });

  it('trait files: diagnostics name each error\'s JSON path and sit on that field; fixing the file clears them', async () => {
    const dir = path.join(dataDir, 'traits', 'eval');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'inline-broken.json');
    const text = JSON.stringify({ questions: ['A fine question?', ''], eval_prompt: 'Rate {question} only', colour: 'red' }, null, 2);
    writeFileSync(file, text);
    try {
      const doc = await vscode.workspace.openTextDocument(file);
      await vscode.window.showTextDocument(doc);
      const diags = await until('diagnostics', () => { const d = vscode.languages.getDiagnostics(doc.uri); return d.length ? d : undefined; });
      const byPath = new Map(diags.map((d) => [String(d.code), doc.getText(d.range)]));
      assert.equal(byPath.get('$.questions[1]'), '""', [...byPath].join(' | '));
      assert.equal(byPath.get('$.eval_prompt'), '"Rate {question} only"');
      assert.equal(byPath.get('$.colour'), '"red"');
      assert.ok(diags.every((d) => d.message.startsWith(String(d.code)) && d.source === 'Persona Lab trait'));
      assert.ok((await state(doc.uri)).lenses.some((t) => /Extract inline-broken vector/.test(t)));
      const fix = new vscode.WorkspaceEdit();
      fix.replace(doc.uri, new vscode.Range(0, 0, doc.lineCount, 0), JSON.stringify({ questions: ['A fine question?'], eval_prompt: 'Rate {question} {answer}' }, null, 2));
      await vscode.workspace.applyEdit(fix);
      await until('diagnostics cleared', () => vscode.languages.getDiagnostics(doc.uri).length === 0);
    } finally {
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      rmSync(file, { force: true });
    }
  });

  it('a screened chat JSONL shows ΔP per sample; Export above a threshold writes exactly those samples', async () => {
    const exRun = readdirSync(path.join(dataDir, 'runs')).map((d) => path.join(dataDir, 'runs', d))
      .find((d) => (JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8')) as { kind: string }).kind === 'extract')!;
    const gens = readFileSync(path.join(exRun, 'generations.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { question: string; answer: string });
    const rows = gens.filter((g) => g.question && g.answer).slice(0, 8)
      .map((g) => ({ messages: [{ role: 'user', content: g.question }, { role: 'assistant', content: g.answer }] }));
    const data = path.join(work, 'chat.jsonl');
    writeFileSync(data, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const out = await vscode.commands.executeCommand<{ runDir: string }>('personaLab.screenDataset', { modelPath: toyMain, trait: 'evil', layer: 4, dataFile: data });
    assert.ok(out);
    const results = JSON.parse(readFileSync(path.join(out.runDir, 'results.json'), 'utf8')) as { samples: { id: string; deltaP: number }[] };
    const uri = vscode.Uri.file(data);
    await vscode.window.showTextDocument(uri);
    const st = await until('screening decorations', async () => { const s = await state(uri); return s.screening.length ? s : undefined; });
    assert.equal(st.screening.length, rows.length);
    st.screening.forEach((d, i) => {
      const dp = results.samples.find((x) => x.id === String(i))!.deltaP;
      assert.equal(d.line, i);
      assert.equal(d.text.split(' ')[1], `${dp >= 0 ? '+' : ''}${dp.toFixed(3)}`);
    });
    assert.ok(st.lenses.some((t) => /ΔP screening: evil at layer 4 on toy-persona@main/.test(t)), st.lenses.join(' | '));
    assert.ok(st.lenses.includes('$(sort-precedence) Sort by ΔP'));
    const sorted = await vscode.commands.executeCommand<{ ids: string[] }>('personaLab.sortByDeltaP', uri.toString());
    assert.deepEqual(sorted?.ids, [...results.samples].sort((a, b) => b.deltaP - a.deltaP || Number(a.id) - Number(b.id)).map((x) => x.id));
    const dps = results.samples.map((x) => x.deltaP).sort((a, b) => a - b);
    const threshold = dps[Math.floor(dps.length / 2)];
    const output = path.join(work, 'chat.above.jsonl');
    const ex = await vscode.commands.executeCommand<{ file: string; count: number }>('personaLab.exportByThreshold', { uri: uri.toString(), side: 'above', threshold, output });
    const lines = readFileSync(data, 'utf8').split('\n').filter(Boolean);
    const expected = lines.filter((_, i) => results.samples.find((x) => x.id === String(i))!.deltaP >= threshold);
    assert.equal(ex?.count, expected.length);
    assert.equal(readFileSync(output, 'utf8'), `${expected.join('\n')}\n`);
  });
});
