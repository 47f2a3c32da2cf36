// `persona-lab parity` as a real process: one JSON object on stdout, exit 0 only within tolerance.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = path.resolve(repoRoot, '../shared/fixtures/parity/llama_gqa');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-parity-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), 'parity', ...args, '--cache-dir', tmp],
  { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });

test('persona-lab parity: JSON report, exit code follows the tolerance', (t) => {
  if (!fs.existsSync(fixture)) return t.skip('../shared/fixtures/parity absent');
  const ok = cli(fixture, '--variant', 'both');
  assert.equal(ok.status, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual(report.variants.map((r: { variant: string }) => r.variant), ['portable', 'fused']);
  assert.ok(report.variants[0].batch.logits.maxAbs < 1e-4);
  assert.equal(report.variants[1].greedy.match, true);

  const strict = cli(fixture, '--variant', 'fused', '--tolerance', '1e-12');
  assert.equal(strict.status, 1);
  assert.equal(JSON.parse(strict.stdout).ok, false);

  const missing = cli(path.join(tmp, 'nope'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /does not exist/);
  assert.equal(cli(fixture, '--variant', 'fast').status, 2);
});
