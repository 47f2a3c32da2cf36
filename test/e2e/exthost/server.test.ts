/**
 * The steering server started from the editor, in the extension host against the installed extension: the
 * command starts it on the session's worker, it answers real HTTP in the OpenAI format (plain and steered with a
 * workspace vector, offered by trait name), a second start reports the running one, and stop closes the port.
 */
import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ServerStatus } from '../../../src/extension/serverCommand.js';

const EXTENSION_ID = 'persona-lab.persona-lab';

describe('Steering server command', function () {
  this.timeout(120_000);
  let toyMain: string;
  let dataDir: string;

  before(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not installed in this VS Code`);
    await ext.activate();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the suite needs an open workspace folder');
    toyMain = path.join(ext.extensionPath, 'models', 'toy-persona', 'revisions', 'main');
    dataDir = path.join(folder.uri.fsPath, '.persona-lab');
    // A real vector, so the server has one to offer by name: the Extract command on the toy (3 questions).
    const extracted = await vscode.commands.executeCommand<{ status: string }>('personaLab.extractVector',
      { modelPath: toyMain, trait: 'sycophantic', maxQuestions: 3 });
    assert.equal(extracted?.status, 'ok');
  });

  after(async () => {
    await vscode.commands.executeCommand('personaLab.stopServer');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts on a free port, answers OpenAI-format requests plain and steered, and stops', async () => {
    const status = await vscode.commands.executeCommand<ServerStatus | undefined>('personaLab.startServer', { modelPath: toyMain, port: 0 });
    assert.ok(status, 'the command returned nothing (see the Persona Lab log)');
    assert.match(status.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.equal(status.model, 'toy-persona');
    const models = await (await fetch(`${status.url}/models`)).json() as { data: { id: string }[] };
    assert.deepEqual(models.data.map((m) => m.id), ['toy-persona']);
    const ask = async (extra: Record<string, unknown>) => {
      const res = await fetch(`${status.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'toy-persona', messages: [{ role: 'user', content: 'how do i clean a hat ?' }], temperature: 0.8, seed: 1, n: 4, max_tokens: 60, ...extra }) });
      assert.equal(res.status, 200, await res.clone().text());
      return ((await res.json()) as { choices: { message: { content: string } }[] }).choices.map((c) => c.message.content);
    };
    const plain = await ask({});
    assert.equal(plain.length, 4);
    assert.deepEqual(status.vectors, ['sycophantic'], 'the workspace vector is offered by trait name');
    {
      const steered = await ask({ steering: [{ vector: 'sycophantic', layer: 4, coef: 3 }] });
      assert.notDeepEqual(steered, plain);
      const marked = (xs: string[]) => xs.filter((x) => /genius|brilliant|wise|amazing/.test(x)).length;
      assert.ok(marked(steered) > marked(plain), `sycophantic markers: plain ${marked(plain)}/4, steered ${marked(steered)}/4`);
    }
    const again = await vscode.commands.executeCommand<ServerStatus | undefined>('personaLab.startServer', { modelPath: toyMain, port: 0 });
    assert.equal(again?.url, status.url, 'a second start reports the running server');
    assert.equal(await vscode.commands.executeCommand('personaLab.stopServer'), true);
    await assert.rejects(fetch(`${status.url}/models`), 'the port is closed after stop');
    assert.equal(await vscode.commands.executeCommand('personaLab.stopServer'), false, 'nothing left to stop');
  });
});
