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

test('GGUF model hint: the one given, else llama.cpp\'s architecture name for the vector\'s model_type or HF class, else llama (blank counts as absent)', () => {
  assert.equal(ggufModelHint({}), 'llama');
  assert.equal(ggufModelHint({ model_type: 'qwen2' }), 'qwen2');
  assert.equal(ggufModelHint({ model_type: '' }), 'llama');
  assert.equal(ggufModelHint({ model_type: '  ' }), 'llama');
  assert.equal(ggufModelHint({ model_type: 'qwen2' }, 'gemma2'), 'gemma2');
  assert.equal(ggufModelHint({ model_type: 'qwen2' }, ''), 'qwen2');
  assert.equal(ggufModelHint({ model_type: 'mistral', architecture: 'MistralForCausalLM' }, ' my-arch '), 'my-arch', 'an explicit hint wins, as given');
  // Per family we load: HF model_type, and the HF class extraction records as `architecture` (src/engine/arch/*.ts),
  // against llama.cpp's general.architecture (src/llama-arch.cpp names; convert_hf_to_gguf.py's class mapping).
  const families: [modelType: string, hfClass: string, llamaCpp: string][] = [
    ['llama', 'LlamaForCausalLM', 'llama'], ['mistral', 'MistralForCausalLM', 'llama'],
    ['qwen2', 'Qwen2ForCausalLM', 'qwen2'], ['qwen3', 'Qwen3ForCausalLM', 'qwen3'],
    ['olmo2', 'Olmo2ForCausalLM', 'olmo2'], ['olmo3', 'Olmo3ForCausalLM', 'olmo2'],
    ['apertus', 'ApertusForCausalLM', 'apertus'], ['gemma2', 'Gemma2ForCausalLM', 'gemma2'],
    ['gemma3_text', 'Gemma3ForCausalLM', 'gemma3'], ['gemma3', 'Gemma3ForConditionalGeneration', 'gemma3'],
    ['phi3', 'Phi3ForCausalLM', 'phi3'], ['gpt2', 'GPT2LMHeadModel', 'gpt2'],
  ];
  for (const [modelType, hfClass, llamaCpp] of families) {
    assert.equal(ggufModelHint({ model_type: modelType }), llamaCpp, modelType);
    assert.equal(ggufModelHint({ architecture: hfClass }), llamaCpp, hfClass);
    assert.equal(ggufModelHint({ model_type: modelType, architecture: hfClass }, 'llama'), 'llama', `${hfClass}: --model-hint wins`);
  }
  assert.equal(ggufModelHint({ model_type: 'granite' }), 'granite', 'a model_type with no entry is kept');
  assert.equal(ggufModelHint({ architecture: 'SomethingForCausalLM' }), 'llama', 'an unknown class gives the old default');
  assert.equal(ggufModelHint({ architecture: 'constructor' }), 'llama', 'the table is not an open object');
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
