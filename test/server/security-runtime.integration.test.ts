/**
 * onnxruntime ≥ 1.29's official builds start a telemetry uploader on Linux/macOS and keep a device id and an event
 * database under ~/.cache/Microsoft/DeveloperTools/.onnxruntime. The worker runs with ORT_DISABLE_TELEMETRY=1
 * (src/engine/client.ts): a model load must leave nothing under the home folder. The control (the same runtime
 * without the variable, in a bare process) shows the files appear, so the check can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../../src/engine/client.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const skip = !existsSync(path.join(MODEL, 'config.json')) && 'toy model not found';

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => { const p = path.join(dir, n); return statSync(p).isDirectory() ? [p, ...files(p)] : [p]; });
}

test('a model load in the worker writes no onnxruntime telemetry state under the home folder', { skip, timeout: 120_000 }, async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'pl-home-'));
  const cache = process.env.PERSONA_LAB_CACHE || path.join(os.homedir(), '.cache', 'persona-lab', 'graphs');
  try {
    // The compile cache stays where it is (named explicitly), so only what onnxruntime itself writes lands in `home`.
    // CI='' so that onnxruntime would write its state here if the worker did not opt out (it stays quiet under CI=true).
    const client = await InferenceClient.start({ threads: 1, env: { HOME: home, PERSONA_LAB_CACHE: cache, ORT_DISABLE_TELEMETRY: '0', CI: '' } });
    let graph: string;
    try {
      const info = await client.loadModel({ path: MODEL, threads: 1 });
      const r = await client.generate({ modelId: info.modelId, rows: [{ prompt: { text: 'hello' }, seed: 0 }], sampling: { temperature: 0, maxNewTokens: 2 } });
      assert.equal(r.rows.length, 1);
      graph = files(cache).find((f) => f.endsWith('model.onnx'))!;
    } finally { await client.dispose(); }
    assert.deepEqual(files(home), [], 'nothing under HOME');

    // Control: the bare runtime, same home, no variable → the telemetry folder appears.
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env.ORT_DISABLE_TELEMETRY;
    // onnxruntime also stays quiet when it sees a CI environment (CI=true, as .ci/run sets): the control must look
    // like a user's machine, or it would write nothing and prove nothing.
    for (const k of ['CI', 'CONTINUOUS_INTEGRATION', 'GITHUB_ACTIONS', 'TF_BUILD', 'JENKINS_URL', 'GITLAB_CI', 'BUILDKITE', 'CIRCLECI', 'TRAVIS', 'BUILD_ID']) delete env[k];
    const p = spawnSync(process.execPath, ['-e', `require('onnxruntime-node').InferenceSession.create(${JSON.stringify(graph)}).then(() => console.log('loaded'))`],
      { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
    assert.match(p.stdout, /loaded/, p.stderr);
    assert.ok(files(home).some((f) => f.includes(path.join('.cache', 'Microsoft', 'DeveloperTools'))), `the control wrote: ${files(home).join(', ') || 'nothing'}`);
  } finally { rmSync(home, { recursive: true, force: true }); }
});
