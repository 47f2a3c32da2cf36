/**
 * Restricted Mode (issue 15, Trust): in an untrusted workspace the views browse, but nothing loads a model, calls a
 * judge or starts the server, and the reason is given. Runs only in the `restricted` E2E suite (scripts/e2e/run.mjs),
 * whose code-server keeps workspace trust on and opens the workspace untrusted; index.ts loads *.untrusted.cjs there
 * and *.test.cjs everywhere else.
 */
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { NEEDS_TRUST } from '../../../src/extension/commands.js';
import type { PersonaLabApi } from '../../../src/extension/extension.js';

const ext = () => vscode.extensions.getExtension<PersonaLabApi>('persona-lab.persona-lab')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Restricted Mode (untrusted workspace)', function () {
  this.timeout(120_000);
  let api: PersonaLabApi;
  let root: string;
  let toyMain: string;

  before(async () => {
    api = await ext().activate();
    root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    toyMain = path.join(ext().extensionPath, 'models', 'toy-persona', 'revisions', 'main');
  });

  it('the workspace is untrusted and the extension is active in it', () => {
    assert.equal(vscode.workspace.isTrusted, false, 'the restricted suite must open the workspace untrusted');
    assert.ok(ext().isActive);
  });

  it('the views still browse: models, traits and a stored vector are listed', async () => {
    const models = api.views.models.listModels().map((m) => m.name);
    assert.ok(models.includes('toy-persona'), `models: ${models.join(', ')}`);
    // A vector placed in the workspace shows in the Vectors view (browsing reads files, loads nothing).
    const dir = path.join(root, '.persona-lab', 'vectors', 'toy-persona', 'main');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'evil.safetensors'), Buffer.alloc(0));
    api.views.vectors.refresh();
    const top = await api.views.vectors.getChildren();
    assert.ok(top.length > 0, 'the Vectors view lists the workspace vector folder');
  });

  it('every model, judge and server command is refused: no worker, no job, no run folder', async () => {
    const runs = path.join(root, '.persona-lab', 'runs');
    const before = existsSync(runs) ? readdirSync(runs).length : 0;
    const args: Record<string, unknown> = { modelPath: toyMain, trait: 'evil', maxQuestions: 1, layer: 4, coef: 6, samples: 1 };
    for (const id of NEEDS_TRUST) {
      const out = await Promise.race([vscode.commands.executeCommand(id, args), sleep(10_000).then(() => 'timeout')]);
      assert.equal(out, undefined, `${id} returned ${JSON.stringify(out)} in Restricted Mode`);
    }
    await sleep(500);
    assert.equal(api.jobs.active().length, 0, 'a job started');
    assert.equal(api.jobs.workerPid, undefined, 'the inference worker started');
    assert.equal(existsSync(runs) ? readdirSync(runs).length : 0, before, 'a run folder was written');
  });
});
