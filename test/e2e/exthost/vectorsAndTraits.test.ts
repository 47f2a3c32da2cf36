/**
 * Import Vector, Export Vector, Create Trait from Description and Run Transfer Sweep through the command API on the toy
 * model (the picks given as the argument object), and the Traits and Models trees: traits/extract|eval listed per trait,
 * shipped traits opened read-only, short tree descriptions with no filesystem path in tooltips or accessible labels.
 */
import * as assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PersonaLabApi } from '../../../src/extension/extension.js';
import type { FileTreeItem } from '../../../src/extension/views/fileTree.js';
import { readVectorFile, writeVectorFile } from '../../../src/core/vectors/file.js';
import { readControlVector } from '../../../src/core/vectors/gguf.js';
import { readTorchTensor } from '../../../src/core/vectors/torch.js';

const ext = () => vscode.extensions.getExtension<PersonaLabApi>('persona-lab.persona-lab')!;
const manifest = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { kind: string; status: string };
const labelOf = (i: vscode.TreeItem) => (typeof i.label === 'string' ? i.label : i.label?.label ?? '');
const tooltipText = (i: vscode.TreeItem) => (i.tooltip instanceof vscode.MarkdownString ? i.tooltip.value : String(i.tooltip ?? ''));

/** A [L+1, H] vector with a distinct value per element (row r, column c → r + c/1000, sign alternating). */
function patterned(rows: number, hidden: number): Float32Array {
  const a = new Float32Array(rows * hidden);
  for (let r = 0; r < rows; r++) for (let c = 0; c < hidden; c++) a[r * hidden + c] = (c % 2 ? -1 : 1) * (r + 1 + c / 1000);
  return a;
}

describe('Vectors and traits commands, and the trees (toy model)', function () {
  this.timeout(900_000);
  let api: PersonaLabApi;
  let dataDir: string;
  let toy: string;
  let toyMain: string;
  let tmp: string;
  let layers = 0, hidden = 0;

  before(async function () {
    api = await ext().activate();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(root, 'the suite needs an open workspace folder');
    dataDir = path.join(root, '.persona-lab');
    toy = path.join(ext().extensionPath, 'models', 'toy-persona');
    toyMain = path.join(toy, 'revisions', 'main');
    if (!existsSync(toyMain)) this.skip();
    const cfg = JSON.parse(readFileSync(path.join(toyMain, 'config.json'), 'utf8')) as { num_hidden_layers: number; hidden_size: number };
    layers = cfg.num_hidden_layers; hidden = cfg.hidden_size;
    rmSync(dataDir, { recursive: true, force: true });
    tmp = path.join(os.tmpdir(), `pl-vt-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
  });

  after(() => { rmSync(dataDir, { recursive: true, force: true }); rmSync(tmp, { recursive: true, force: true }); });

  it('Import Vector: a .safetensors file of the right shape lands in vectors/<model>/<revision>/ and shows in the Vectors view', async () => {
    const src = path.join(tmp, 'source.safetensors');
    writeVectorFile(src, { layers: layers + 1, hidden, data: { response_avg: patterned(layers + 1, hidden) }, metadata: {} });
    const out = await vscode.commands.executeCommand<{ file: string; shape: number[] }>('personaLab.importVector', { file: src, modelPath: toyMain, trait: 'patterned' });
    assert.ok(out, 'no outcome');
    assert.deepEqual(out.shape, [layers + 1, hidden]);
    assert.equal(path.relative(dataDir, out.file), path.join('vectors', 'toy-persona', 'main', 'patterned.safetensors'));
    assert.deepEqual(readVectorFile(out.file).data.response_avg, patterned(layers + 1, hidden));
    let items = (await api.views.vectors.getChildren()) ?? [];
    for (const name of ['toy-persona', 'main']) items = (await api.views.vectors.getChildren(items.find((i) => labelOf(i) === name) as FileTreeItem)) ?? [];
    assert.ok(items.some((i) => labelOf(i) === 'patterned.safetensors' && i.contextValue === 'personaLab.vector'), 'the imported vector is not in the Vectors view');
  });

  it('Import Vector refuses a vector of another model\'s shape and a name already taken, writing nothing', async () => {
    const wrong = path.join(tmp, 'wrong.safetensors');
    writeVectorFile(wrong, { layers: layers + 2, hidden, data: { response_avg: patterned(layers + 2, hidden) }, metadata: {} });
    assert.equal(await vscode.commands.executeCommand('personaLab.importVector', { file: wrong, modelPath: toyMain, trait: 'wrong' }), undefined);
    assert.equal(existsSync(path.join(dataDir, 'vectors', 'toy-persona', 'main', 'wrong.safetensors')), false);
    const before = readFileSync(path.join(dataDir, 'vectors', 'toy-persona', 'main', 'patterned.safetensors'));
    const other = path.join(tmp, 'other.safetensors');
    writeVectorFile(other, { layers: layers + 1, hidden, data: { response_avg: new Float32Array((layers + 1) * hidden).fill(0.5) }, metadata: {} });
    assert.equal(await vscode.commands.executeCommand('personaLab.importVector', { file: other, modelPath: toyMain, trait: 'patterned' }), undefined);
    assert.deepEqual(readFileSync(path.join(dataDir, 'vectors', 'toy-persona', 'main', 'patterned.safetensors')), before, 'an existing vector was overwritten');
  });

  it('Export Vector writes upstream .pt and a GGUF control vector; both import back to the same rows', async () => {
    const vec = path.join(dataDir, 'vectors', 'toy-persona', 'main', 'patterned.safetensors');
    const pt = await vscode.commands.executeCommand<{ file: string }>('personaLab.exportVector', { vector: vec, format: 'pt', out: path.join(tmp, 'patterned_response_avg_diff.pt') });
    assert.ok(pt);
    const t = readTorchTensor(pt.file);
    assert.deepEqual(t.shape, [layers + 1, hidden]);
    assert.deepEqual(t.data, patterned(layers + 1, hidden));
    const back = await vscode.commands.executeCommand<{ file: string }>('personaLab.importVector', { file: pt.file, modelPath: toyMain, trait: 'from_pt' });
    assert.deepEqual(readVectorFile(back!.file).data.response_avg, patterned(layers + 1, hidden), '.pt round trip');

    const gg = await vscode.commands.executeCommand<{ file: string }>('personaLab.exportVector', { vector: vec, format: 'gguf', out: path.join(tmp, 'patterned.gguf') });
    assert.ok(gg);
    const cv = readControlVector(gg.file);
    assert.ok(cv.directions.size > 0);
    const fromGguf = await vscode.commands.executeCommand<{ file: string; rows: number[] }>('personaLab.importVector', { file: gg.file, modelPath: toyMain, trait: 'from_gguf' });
    assert.ok(fromGguf);
    const rows = readVectorFile(fromGguf.file).data.response_avg!;
    const src = patterned(layers + 1, hidden);
    for (let r = 0; r <= layers; r++) {
      const got = rows.slice(r * hidden, (r + 1) * hidden), want = src.slice(r * hidden, (r + 1) * hidden);
      if (fromGguf.rows.includes(r)) assert.deepEqual(got, want, `row ${r} survives the GGUF round trip`);
      else assert.ok(got.every((x) => x === 0), `row ${r} has no llama.cpp direction, so it imports as zeros`);
    }
    assert.ok(fromGguf.rows.length >= layers - 2, `rows ${fromGguf.rows.join(', ')}`);

    const copy = await vscode.commands.executeCommand<{ file: string }>('personaLab.exportVector', { vector: vec, format: 'safetensors', out: path.join(tmp, 'copy.safetensors') });
    assert.deepEqual(readFileSync(copy!.file), readFileSync(vec));
  });

  it('Create Trait from Description: the configured chat model (key from SecretStorage) writes valid extract and eval files', async () => {
    const key = `sk-trait-sentinel-${process.pid}`;
    let auth = '';
    const good = {
      instruction: Array.from({ length: 5 }, (_, i) => ({ pos: `Be gloomy in way ${i}.`, neg: `Be cheerful in way ${i}.` })),
      questions: Array.from({ length: 40 }, (_, i) => `How was day ${i}?`),
      eval_prompt: "You are evaluating whether the model's response displays the trait: **gloomy**. Gloomy answers expect the worst.\n\nPrompt:\n[QUESTION START]\n{question}\n[QUESTION END]\n\nModel response:\n[ANSWER START]\n{answer}\n[ANSWER END]\n\nRespond with a number between 0 and 100. Don't say anything else, just the number.",
    };
    const server = http.createServer((req, res) => {
      auth = String(req.headers.authorization ?? '');
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'chatcmpl-gen', object: 'chat.completion', created: 1, model: 'gen-model',
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: JSON.stringify(good) } }], usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const config = vscode.workspace.getConfiguration('personaLab');
    try {
      await config.update('judge.baseUrl', `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`, vscode.ConfigurationTarget.Workspace);
      await config.update('judge.model', 'gen-model', vscode.ConfigurationTarget.Workspace);
      assert.equal(await vscode.commands.executeCommand('personaLab.setJudgeApiKey', key), 'stored');
      const out = await vscode.commands.executeCommand<{ files: { extract: string; eval: string } }>('personaLab.createTraitFromDescription', { name: 'gloomy', description: 'expects the worst' });
      assert.ok(out, 'no outcome');
      assert.equal(auth, `Bearer ${key}`, 'the request carried the key from SecretStorage');
      const ex = JSON.parse(readFileSync(out.files.extract, 'utf8')) as { instruction: unknown[]; questions: string[] };
      const ev = JSON.parse(readFileSync(out.files.eval, 'utf8')) as { questions: string[] };
      assert.equal(ex.instruction.length, 5);
      assert.deepEqual([ex.questions.length, ev.questions.length], [20, 20]);
      assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, out.files.extract, 'the new trait is open in an editor');
      // A second call with the same name is refused: nothing is overwritten.
      const before = readFileSync(out.files.extract, 'utf8');
      assert.equal(await vscode.commands.executeCommand('personaLab.createTraitFromDescription', { name: 'gloomy', description: 'other' }), undefined);
      assert.equal(readFileSync(out.files.extract, 'utf8'), before);
      // The key is in no file of the workspace folder.
      const hits: string[] = [];
      const walk = (d: string) => { for (const n of readdirSync(d)) { const f = path.join(d, n); if (statSync(f).isDirectory()) walk(f); else if (readFileSync(f).includes(key)) hits.push(f); } };
      walk(dataDir);
      assert.deepEqual(hits, []);
    } finally {
      await config.update('judge.baseUrl', undefined, vscode.ConfigurationTarget.Workspace);
      await config.update('judge.model', undefined, vscode.ConfigurationTarget.Workspace);
      await vscode.commands.executeCommand('personaLab.setJudgeApiKey', '');
      server.closeAllConnections(); server.close();
    }
  });

  it('Traits view: one item per trait from traits/extract and traits/eval, with both files under it', async () => {
    api.views.traits.refresh();
    const ws = ((await api.views.traits.getChildren()) ?? []).find((i) => labelOf(i) === 'Workspace');
    assert.ok(ws, 'no Workspace group');
    const gloomy = ((await api.views.traits.getChildren(ws)) ?? []).find((i) => labelOf(i) === 'gloomy');
    assert.ok(gloomy, 'the created trait is not listed');
    assert.equal(gloomy.description, 'extract · eval');
    const files = ((await api.views.traits.getChildren(gloomy)) ?? []).map(labelOf);
    assert.deepEqual(files, ['extract/gloomy.json', 'eval/gloomy.json']);
  });

  it('Traits view: a shipped trait opens read-only and offers Copy to Workspace', async () => {
    const shipped = ((await api.views.traits.getChildren()) ?? []).find((i) => labelOf(i) === 'Toy model');
    assert.ok(shipped, 'no Toy model group');
    const evil = ((await api.views.traits.getChildren(shipped)) ?? []).find((i) => labelOf(i) === 'evil');
    assert.ok(evil?.command, 'no evil trait with an open command');
    assert.equal(evil.contextValue, 'personaLab.shippedTrait');
    await vscode.commands.executeCommand(evil.command.command, ...(evil.command.arguments ?? []));
    const doc = vscode.window.activeTextEditor?.document;
    assert.equal(doc?.uri.scheme, 'persona-lab-builtin', 'opened as a read-only document');
    assert.equal(doc?.getText(), readFileSync(path.join(toy, 'traits', 'extract', 'evil.json'), 'utf8'));
    const menus = ext().packageJSON.contributes.menus['view/item/context'] as { command: string; when: string }[];
    const copy = menus.find((m) => m.command === 'personaLab.copyTraitToWorkspace');
    assert.ok(copy && /viewItem =~ \/\^personaLab\\\.shippedTrait/.test(copy.when), 'Copy to Workspace is offered on shipped traits');
  });

  it('Models view: short descriptions, Markdown tooltips and accessible labels without filesystem paths', async () => {
    const models = (await api.views.models.getChildren()) ?? [];
    const nodes = [...models];
    for (const m of models) nodes.push(...((await api.views.models.getChildren(m)) ?? []));
    assert.ok(nodes.length > 3);
    for (const n of nodes) {
      const text = `${labelOf(n)} ${String(n.description ?? '')}`;
      assert.ok(text.length <= 32, `"${text}" is ${text.length} characters: too long for the default sidebar width`);
      assert.ok(!tooltipText(n).includes(ext().extensionPath), `${labelOf(n)}: the tooltip names the extension folder`);
      assert.ok(n.accessibilityInformation && !n.accessibilityInformation.label.includes(path.sep), `${labelOf(n)}: the accessible label is a path`);
    }
  });

  it('Run Transfer Sweep: every source revision\'s vector evaluated on the instruct model, opened in the sweep dashboard', async () => {
    const target = path.join(ext().extensionPath, 'models', 'toy-persona-instruct');
    const out = await vscode.commands.executeCommand<{ runDir: string; transferRows: number }>('personaLab.runTransferSweep',
      { modelPath: toy, revisions: ['stage1-step550', 'main'], targetPath: target, traits: ['evil'], scaling: 'raw', maxQuestions: 2, samples: 1, evalSamples: 1 });
    assert.ok(out, 'no outcome');
    assert.equal(manifest(out.runDir).kind, 'sweep');
    assert.equal(manifest(out.runDir).status, 'done');
    const csv = readFileSync(path.join(out.runDir, 'transfer_combined_significance.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length - 1, out.transferRows);
    const sources = ['stage1-step550', 'main'].filter((r) => existsSync(path.join(dataDir, 'vectors', 'toy-persona', r, 'evil.safetensors')));
    assert.ok(out.transferRows >= sources.length && sources.length > 0, `${out.transferRows} transfer rows for ${sources.length} source vectors`);
    // The dashboard opens on its own when the sweep ends.
    const deadline = Date.now() + 20_000;
    const dashboard = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && /sweep/i.test(t.label) && t.label.includes(path.basename(out.runDir).slice(0, 12)));
    while (!dashboard() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.ok(dashboard(), `no sweep dashboard tab among ${vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label).join(', ')}`);
  });
});
