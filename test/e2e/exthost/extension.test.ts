/**
 * Extension-host suite: runs inside a real VS Code (code-server's Node extension host in CI,
 * desktop VS Code through @vscode/test-cli) against the extension under test — in CI that is the
 * extension installed from the very .vsix `npm run package` produced.
 *
 * To add a test: add an `it(...)` here or a new `<name>.test.ts` in this folder (bdd globals,
 * node:assert/strict); scripts/e2e/build-tests.mjs bundles every file in the folder.
 */
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PersonaLabApi } from '../../../src/extension/extension.js';

const EXTENSION_ID = 'persona-lab.persona-lab';

interface Contributes {
  commands: { command: string }[];
  views: Record<string, { id: string }[]>;
  viewsContainers: { activitybar: { id: string }[] };
}

function extension(): vscode.Extension<PersonaLabApi> {
  const ext = vscode.extensions.getExtension<PersonaLabApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not installed in this VS Code`);
  return ext;
}

const labels = (items: vscode.TreeItem[]) => items.map((i) => (typeof i.label === 'string' ? i.label : i.label?.label));

async function children(provider: vscode.TreeDataProvider<vscode.TreeItem>, node?: vscode.TreeItem): Promise<vscode.TreeItem[]> {
  return (await provider.getChildren(node)) ?? [];
}

function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the suite needs an open workspace folder');
  return folder.uri.fsPath;
}

describe('Persona Lab extension', () => {
  let api: PersonaLabApi;
  let contributes: Contributes;

  before(async () => {
    const ext = extension();
    api = await ext.activate();
    contributes = ext.packageJSON.contributes as Contributes;
  });

  it('activates and exposes its four view providers', () => {
    assert.equal(extension().isActive, true);
    assert.deepEqual(Object.keys(api.views).sort(), ['models', 'runs', 'traits', 'vectors']);
  });

  it('registers every command contributed in package.json', async () => {
    const contributed = contributes.commands.map((c) => c.command);
    assert.ok(contributed.length > 0, 'package.json contributes no commands');
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  it('backs every contributed view with a provider', () => {
    const container = contributes.viewsContainers.activitybar.find((c) => c.id === 'personaLab');
    assert.ok(container, 'no "personaLab" activity-bar container');
    const ids = contributes.views.personaLab.map((v) => v.id);
    assert.deepEqual(ids, ['personaLab.models', 'personaLab.traits', 'personaLab.vectors', 'personaLab.runs']);
    for (const id of ids) assert.ok((api.views as Record<string, unknown>)[id.split('.')[1]], `no provider for ${id}`);
  });

  it('lists the embedded toy model and its revisions in the Models view', async function () {
    const toy = path.join(extension().extensionPath, 'models', 'toy-persona');
    if (!existsSync(path.join(toy, 'config.json')) && !existsSync(path.join(toy, 'manifest.json'))) {
      this.skip(); // the toy model is not part of this build (models/toy-persona absent)
    }
    const roots = await children(api.views.models);
    const item = roots.find((i) => labels([i])[0] === 'toy-persona');
    assert.ok(item, `Models view roots: ${labels(roots).join(', ')}`);
    if (existsSync(path.join(toy, 'manifest.json')) || existsSync(path.join(toy, 'revisions'))) {
      const revisions = await children(api.views.models, item);
      assert.ok(revisions.length > 0, 'toy-persona has a manifest/revisions folder but the view lists no revisions');
    }
  });

  it('lists the toy model\'s extraction traits in the Traits view', async function () {
    const dir = path.join(extension().extensionPath, 'models', 'toy-persona', 'traits', 'extract');
    const files = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')) : [];
    if (files.length === 0) this.skip(); // no toy-model trait files in this build
    const source = (await children(api.views.traits)).find((i) => labels([i])[0] === 'Toy model');
    assert.ok(source, 'no "Toy model" group in the Traits view');
    assert.deepEqual(labels(await children(api.views.traits, source)).sort(), files.map((f) => f.replace(/\.json$/, '')).sort());
  });

  it('creates the workspace folder and mirrors its traits, vectors and runs', async () => {
    const dataDir = path.join(workspaceRoot(), '.persona-lab');
    rmSync(dataDir, { recursive: true, force: true });
    try {
      const uri = await vscode.commands.executeCommand<vscode.Uri>('personaLab.openWorkspaceFolder');
      assert.equal(uri?.fsPath, dataDir);
      for (const sub of ['traits', 'vectors', 'runs']) assert.ok(existsSync(path.join(dataDir, sub)), `${sub}/ not created`);
      assert.deepEqual(await children(api.views.vectors), [], 'empty vectors/ must give an empty tree (welcome view)');

      writeFileSync(path.join(dataDir, 'traits', 'evil.json'), JSON.stringify({ instruction: [], questions: [], eval_prompt: '' }));
      writeFileSync(path.join(dataDir, 'vectors', 'evil.safetensors'), Buffer.alloc(64));
      mkdirSync(path.join(dataDir, 'runs', '20261122-210000-extract'));
      writeFileSync(path.join(dataDir, 'runs', '20261122-210000-extract', 'manifest.json'), '{}');
      await vscode.commands.executeCommand('personaLab.refresh');

      const traitSource = (await children(api.views.traits)).find((i) => labels([i])[0] === 'Workspace');
      assert.ok(traitSource, 'no "Workspace" group in the Traits view');
      assert.deepEqual(labels(await children(api.views.traits, traitSource)), ['evil']);
      assert.deepEqual(labels(await children(api.views.vectors)), ['evil.safetensors']);
      const runs = await children(api.views.runs);
      assert.deepEqual(labels(runs), ['20261122-210000-extract']);
      assert.deepEqual(labels(await children(api.views.runs, runs[0])), ['manifest.json']);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('adds a model folder to personaLab.modelPaths and shows it; Show Model Details opens its config', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-model-'));
    const config = vscode.workspace.getConfiguration('personaLab');
    const before = config.inspect<string[]>('modelPaths')?.workspaceValue;
    try {
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], num_hidden_layers: 2, hidden_size: 64 }));
      const added = await vscode.commands.executeCommand<string>('personaLab.addModelFolder', vscode.Uri.file(dir));
      assert.equal(added, dir);
      assert.ok(vscode.workspace.getConfiguration('personaLab').get<string[]>('modelPaths')?.includes(dir));
      const item = (await children(api.views.models)).find((i) => labels([i])[0] === path.basename(dir));
      assert.ok(item, 'the added folder is not in the Models view');
      // A short description that fits the sidebar; the full facts in the Markdown tooltip.
      assert.equal(item.description, '2 layers');
      assert.match((item.tooltip as vscode.MarkdownString).value, /LlamaForCausalLM, 2 layers, d=64/);

      const opened = await vscode.commands.executeCommand<string>('personaLab.revealModel', item);
      assert.equal(opened, path.join(dir, 'config.json'));
      assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, path.join(dir, 'config.json'));
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await config.update('modelPaths', before, vscode.ConfigurationTarget.Workspace);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows a missing model folder as a warning instead of failing', async () => {
    const config = vscode.workspace.getConfiguration('personaLab');
    const before = config.inspect<string[]>('modelPaths')?.workspaceValue;
    const missing = path.join(os.tmpdir(), 'persona-lab-no-such-model');
    try {
      await config.update('modelPaths', [missing], vscode.ConfigurationTarget.Workspace);
      const item = (await children(api.views.models)).find((i) => labels([i])[0] === path.basename(missing));
      assert.ok(item, 'the missing folder is not shown');
      assert.equal(item.description, 'folder not found');
    } finally {
      await config.update('modelPaths', before, vscode.ConfigurationTarget.Workspace);
    }
  });

  it('Extract Persona Vector runs the real worker on the toy model and writes the vector into the workspace folder', async function () {
    this.timeout(180_000);
    const dataDir = path.join(workspaceRoot(), '.persona-lab');
    rmSync(dataDir, { recursive: true, force: true });
    try {
      const modelPath = path.join(extension().extensionPath, 'models', 'toy-persona', 'revisions', 'main');
      const out = await vscode.commands.executeCommand<{ status: string; vectorPath?: string; pairsKept: number; pairsTotal: number }>(
        'personaLab.extractVector', { modelPath, trait: 'evil', maxQuestions: 3 });
      assert.ok(out, 'the command returned nothing (see the Persona Lab log)');
      assert.equal(out.status, 'ok');
      assert.equal(out.pairsTotal, 30, '3 questions × 5 instruction pairs × 2 samples');
      assert.ok(out.pairsKept > 20, `pairs kept ${out.pairsKept}`);
      assert.equal(out.vectorPath, path.join(dataDir, 'vectors', 'toy-persona', 'main', 'evil.safetensors'));
      assert.ok(existsSync(out.vectorPath!));
      await vscode.commands.executeCommand('personaLab.refresh');
      const top = await children(api.views.vectors);
      assert.deepEqual(labels(top), ['toy-persona'], 'the Vectors view shows the new vector\'s model folder');
      assert.ok(readdirSync(path.join(dataDir, 'runs')).some((d) => d.startsWith('extract-toy-persona-main-evil-')), 'an extraction run folder');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('Run Checkpoint Sweep extracts and steers at each revision and writes the sweep table', async function () {
    this.timeout(240_000);
    const dataDir = path.join(workspaceRoot(), '.persona-lab');
    rmSync(dataDir, { recursive: true, force: true });
    try {
      const modelPath = path.join(extension().extensionPath, 'models', 'toy-persona');
      const out = await vscode.commands.executeCommand<{ runDir: string; rows: Record<string, unknown>[] }>(
        'personaLab.runSweep', { modelPath, revisions: ['stage1-step0', 'main'], traits: ['sycophantic'], maxQuestions: 3 });
      assert.ok(out, 'the command returned nothing (see the Persona Lab log)');
      assert.deepEqual(out.rows.map((r) => [r.eval_revision, r.vector_status]), [['stage1-step0', 'nonextractable'], ['main', 'ok']]);
      assert.ok(Number(out.rows[1].delta_trait_mean) > 10, `main Δτ ${String(out.rows[1].delta_trait_mean)}`);
      assert.ok(existsSync(path.join(out.runDir, 'combined_significance.csv')));
      assert.ok(existsSync(path.join(dataDir, 'norms', 'toy-persona', 'main_shared_norms.csv')));
      // The dashboard webview renders the sweep: Δτ, coherence and cosine charts per trait, one table row per revision, one Δτ point (main).
      const rendered = await vscode.commands.executeCommand<{ charts: number; rows: number; points: number }>('personaLab.openSweepDashboard', out.runDir);
      assert.deepEqual(rendered, { charts: 3, rows: 2, points: 1 });
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('loads onnxruntime-node (native linux-x64 binary) from the extension\'s own node_modules', () => {
    const root = extension().extensionPath;
    const req = createRequire(path.join(root, 'package.json'));
    const resolved = req.resolve('onnxruntime-node');
    assert.ok(resolved.startsWith(root), `onnxruntime-node resolved outside the extension: ${resolved}`);
    const ort = req('onnxruntime-node') as { InferenceSession: { create: unknown }; Tensor: new (t: string, d: Float32Array, s: number[]) => { dims: readonly number[] } };
    assert.equal(typeof ort.InferenceSession.create, 'function');
    assert.deepEqual(new ort.Tensor('float32', new Float32Array(6), [2, 3]).dims, [2, 3]);
  });
});
