/** The declared-option parser (src/cli/args.ts) over the job table (src/core/jobs/table.ts), and the shared policies. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgs } from '../../src/cli/args.js';
import { judgeSpecFor, loadOptionsFor, resolveOptions, samplerPresetFor, samplingFor, steeringPoints, parseSteering } from '../../src/core/jobs/defaults.js';
import { OptionError } from '../../src/core/jobs/options.js';
import { JOBS } from '../../src/core/jobs/table.js';
import { TOY_PROTOCOL } from '../../src/core/toy/protocol.js';

test('a boolean option takes no value: --json before a positional leaves the positional', () => {
  const { args, flags } = parseArgs(['--json', 'v.safetensors', '--kind=prompt_avg'], [{ name: 'json', type: 'boolean', help: '' }, { name: 'kind', type: 'enum', values: ['prompt_avg'], help: '' }]);
  assert.deepEqual(args, ['v.safetensors']);
  assert.deepEqual(flags, { json: true, kind: 'prompt_avg' });
});

test('values are typed and validated before any work: ints, numbers (negative too), lists, ranges, enums', () => {
  const { flags } = parseArgs(['--trait', 'evil', '--layer', '4', '--coef', '-2.5', '--seeds', '0:2:1,7', '--modes', 'random'], JOBS.controls);
  assert.deepEqual(flags, { trait: 'evil', layer: 4, coef: -2.5, seeds: [0, 1, 2, 7], modes: ['random'] });
  assert.throws(() => parseArgs(['--trait', 'evil', '--layer', '4', '--coef', 'x'], JOBS.controls), /--coef must be a number \(got "x"\)/);
  assert.throws(() => parseArgs(['--trait', 'evil', '--layer', '4', '--coef', '1', '--modes', 'random,bogus'], JOBS.controls), /--modes takes random, shuffled/);
  assert.throws(() => parseArgs(['--trait', 'evil', '--samples', '2.5'], JOBS.extract), /--samples must be an integer/);
  assert.throws(() => parseArgs(['--trait', 'evil', '--provider', 'tpu'], JOBS.extract), /--provider must be one of auto, cpu, cuda, webgpu/);
});

test('an unknown option is a usage error that lists the valid ones; a missing required option too', () => {
  assert.throws(() => parseArgs(['--trait', 'evil', '--layr', '3'], JOBS.grid), (e: unknown) =>
    e instanceof OptionError && /unknown option --layr; valid options: .*--layers/.test(e.message));
  assert.throws(() => parseArgs(['--layer', '4', '--coef', '1'], JOBS.evaluate), /--trait is required/);
  assert.throws(() => parseArgs(['--trait', 'evil', '--seed'], JOBS.extract), /--seed needs a value/);
});

test('defaults come from the table; the toy model gets the toy protocol\'s sample counts (extract, evaluate, sweep alike)', () => {
  assert.equal(resolveOptions(JOBS.extract, {}, true).samples, TOY_PROTOCOL.extractSamples);
  assert.equal(resolveOptions(JOBS.extract, {}, false).samples, 10);
  assert.equal(resolveOptions(JOBS.evaluate, {}, true).samples, TOY_PROTOCOL.evalSamples);
  assert.equal(resolveOptions(JOBS.sweep, {}, true)['eval-samples'], TOY_PROTOCOL.evalSamples);
  assert.equal(resolveOptions(JOBS.sweep, { 'eval-samples': 3 }, true)['eval-samples'], 3);
  assert.throws(() => resolveOptions(JOBS.norms, { coefs: [1] }), /not declared/);
});

test('one sampler rule, one judge spec, one set of load options', () => {
  assert.deepEqual([samplerPresetFor(true, true), samplerPresetFor(false, true), samplerPresetFor(false, false)], ['toy', 'pv', 'pp']);
  const s = samplingFor({ temperature: 0.3 }, false, false);
  assert.equal(s.preset, 'pp');
  assert.equal(s.params.temperature, 0.3);
  assert.equal(s.params.repetitionPenalty, 1.1);
  assert.deepEqual(judgeSpecFor({}, true), { kind: 'rubric' });
  assert.equal(judgeSpecFor({}, false), undefined);
  const llm = judgeSpecFor({ 'judge-base-url': 'http://x/v1' }, true, { OPENAI_API_KEY: 'k' });
  assert.deepEqual(llm && { ...llm }, { kind: 'openai', baseURL: 'http://x/v1', model: 'gpt-4.1-mini-2025-04-14', apiKey: 'k', concurrency: 8, maxRetries: 5, timeoutMs: 60_000, cache: true,
    seed: undefined, extraBody: undefined, pricing: undefined });
  assert.deepEqual(loadOptionsFor({ threads: 0, provider: 'cpu', 'weight-format': 'f16' }), { threads: undefined, executionProvider: 'cpu', weightFormat: 'f16' });
  assert.deepEqual(loadOptionsFor({}), { threads: undefined, executionProvider: 'auto', weightFormat: undefined });
});

test('steering points: per trait, else one --layer/--coef, else the manifest\'s; a trait without one is named', () => {
  const rec = { evil: { layer: 4, coef: 6 }, humorous: { layer: 4, coef: 3 } };
  assert.deepEqual(steeringPoints(['evil', 'humorous'], { explicit: parseSteering('evil=3:2.5'), recommended: rec }), { evil: { layer: 3, coef: 2.5 }, humorous: { layer: 4, coef: 3 } });
  assert.deepEqual(steeringPoints(['evil'], { layer: 2, coef: 1, recommended: rec }), { evil: { layer: 2, coef: 1 } });
  assert.throws(() => steeringPoints(['impolite'], { recommended: rec }), /no steering point for impolite/);
  assert.throws(() => parseSteering('evil=4'), /must be trait=layer:coef/);
});
