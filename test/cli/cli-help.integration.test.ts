/** The real CLI entry point over the job table: generated --help, usage errors before any model loads, switches. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from './helpers.js';

test('the CLI: --help is generated from the table (defaults shown), a bad option is exit 2 before any model loads', async () => {
  const help = await cli(['sweep', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--eval-samples N +samples per evaluation question \(default 4 on the toy model, else 10\)/);
  assert.match(help.stdout, /--provider auto\|cpu\|cuda\|webgpu/);
  const bad = await cli(['grid', '--trait', 'evil', '--layr', '3']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option --layr; valid options: .*--layers/);
  assert.doesNotMatch(bad.stderr, /loading/);
  const swallowed = await cli(['vectors', 'export', '--json', '/nonexistent/evil.safetensors']);
  assert.equal(swallowed.code, 2);
  assert.match(swallowed.stderr, /\/nonexistent\/evil\.safetensors does not exist/, '--json takes no value: the file stays the positional');
});
