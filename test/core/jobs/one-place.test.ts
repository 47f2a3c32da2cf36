/**
 * Rules the CLI and the editor both apply live in core, once: the GGUF export's model hint (`vectors export --format
 * gguf` and Export Vector…) and `traits generate`'s defaults (the job table, which the CLI parses and the editor's
 * Create Trait from Description resolves).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ggufModelHint } from '../../../src/core/vectors/gguf.js';
import { JOBS } from '../../../src/core/jobs/table.js';
import { resolveOptions, traitGenerationDefaults } from '../../../src/core/jobs/defaults.js';
import { parseArgs } from '../../../src/cli/args.js';
import { traitsGenerate } from '../../../src/cli/commands/traits-generate.js';

test('GGUF model hint: the one given, else the vector\'s model_type, else llama (blank counts as absent)', () => {
  assert.equal(ggufModelHint({}), 'llama');
  assert.equal(ggufModelHint({ model_type: 'qwen2' }), 'qwen2');
  assert.equal(ggufModelHint({ model_type: '' }), 'llama');
  assert.equal(ggufModelHint({ model_type: '  ' }), 'llama');
  assert.equal(ggufModelHint({ model_type: 'qwen2' }, 'gemma2'), 'gemma2');
  assert.equal(ggufModelHint({ model_type: 'qwen2' }, ''), 'qwen2');
});

test('traits generate: options and defaults declared once, in the job table', () => {
  assert.equal(traitsGenerate.options, JOBS['traits-generate'], 'the CLI command declares no options of its own');
  const table = resolveOptions(JOBS['traits-generate'], {});
  assert.deepEqual(traitGenerationDefaults(), { maxAttempts: table['max-attempts'], temperature: table.temperature });
  assert.deepEqual(traitGenerationDefaults(), { maxAttempts: 3, temperature: 1 });
  assert.deepEqual(traitGenerationDefaults({ 'max-attempts': 5, temperature: 0.2 }), { maxAttempts: 5, temperature: 0.2 });
  const { flags } = parseArgs(['--name', 'gloomy', '--description', 'x', '--base-url', 'http://127.0.0.1:9/v1', '--model', 'm'], JOBS['traits-generate']);
  assert.equal(resolveOptions(JOBS['traits-generate'], flags)['max-attempts'], 3);
  assert.throws(() => parseArgs(['--name', 'g', '--description', 'x', '--base-url', 'u', '--model', 'm', '--max-attempts', '0'], JOBS['traits-generate']), /--max-attempts/);
});
