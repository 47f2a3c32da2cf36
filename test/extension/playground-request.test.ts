/** The Steering Playground's form checks, steering specs, heat slicing, means and prompt-file line (pure; no worker). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeF32 } from '../../src/engine/protocol.js';
import { parsePromptFile } from '../../src/core/promptFiles/parse.js';
import { columnMeans, promptFileLine, steerSpecs, tokenHeat, validateRequest } from '../../src/extension/playground/request.js';
import { parseFromWebview, parseState, type GenerationRequest } from '../../webview/playground/protocol.js';

const form = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  prompt: ' hi ', steer: [{ vector: '/v/a.safetensors', layer: 2, coef: 4 }], positions: 'response', scaling: 'raw', targetNorm: Number.NaN,
  n: 2, seed: 0, temperature: 0.8, maxTokens: 20, ...over,
});

test('validateRequest: an emptied field is refused by name (never read as 0), rows are named when there are several', () => {
  assert.equal(validateRequest(form(), 4).prompt, 'hi');
  assert.throws(() => validateRequest(form({ steer: [{ vector: '/v/a', layer: Number.NaN, coef: 1 }] }), 4), /^Error: layer \(ℓ = hidden_states\[ℓ\], 0\.\.L with L = 4\) is empty: type a number$/);
  assert.throws(() => validateRequest(form({ steer: [{ vector: '/v/a', layer: 1, coef: 1 }, { vector: '/v/a', layer: 1, coef: Number.NaN }] }), 4), /coef \(steering row 2\) is empty/);
  assert.throws(() => validateRequest(form({ steer: [{ vector: '/v/a', layer: 5, coef: 1 }] }), 4), /layer .* must be a whole number in 0\.\.4 \(got 5\)/);
  assert.throws(() => validateRequest(form({ steer: [] }), 4), /add a steering row/);
  assert.throws(() => validateRequest(form({ steer: [{ vector: '', layer: 1, coef: 1 }] }), 4), /pick a persona vector/);
  assert.throws(() => validateRequest(form({ n: Number.NaN }), 4), /^Error: n is empty/);
  assert.throws(() => validateRequest(form({ scaling: 'target-norm' }), 4), /target norm is empty/);
  assert.equal(validateRequest(form({ scaling: 'target-norm', targetNorm: 3 }), 4).targetNorm, 3);
  assert.throws(() => validateRequest(form({ positions: 'middle' as never }), 4), /positions must be one of response, prompt, all/);
});

test('steerSpecs: one spec per row with the form\'s positions and scaling; a zero row is refused for unit scaling', () => {
  const req = validateRequest(form({ steer: [{ vector: 'a', layer: 1, coef: 2 }, { vector: 'b', layer: 3, coef: -1 }], positions: 'all', scaling: 'target-norm', targetNorm: 5 }), 4);
  const specs = steerSpecs(req, [{ file: 'a', values: new Float32Array([1, 2]) }, { file: 'b', values: new Float32Array([3, 4]) }]);
  assert.deepEqual(specs.map((s) => [s.layer, s.coef, s.positions, s.scaling]), [[1, 2, 'all', { mode: 'target-norm', norm: 5 }], [3, -1, 'all', { mode: 'target-norm', norm: 5 }]]);
  assert.deepEqual([...decodeF32((specs[1].vector as { values: string }).values)], [3, 4]);
  const unit = validateRequest(form({ scaling: 'unit' }), 4);
  assert.throws(() => steerSpecs(unit, [{ file: 'z.safetensors', values: new Float32Array(2) }]), /z\.safetensors: row 2 .* all zeros, so unit scaling would divide by a zero norm/);
  assert.equal(steerSpecs(validateRequest(form(), 4), [{ file: 'z', values: new Float32Array(2) }]).length, 1, 'raw: the worker decides (coef ≠ 0 adding nothing is its error)');
});

test('tokenHeat: the answer\'s tokens after the prompt, the EOS dropped, one value list per row', () => {
  const h = tokenHeat(['a', ' b', ''], 3, 'eos', 2, [[9, 9, 1, 2, 3], [8, 8, -1, -2, -3]]);
  assert.deepEqual(h, { tokens: ['a', ' b'], values: [[1, 2], [-1, -2]] });
  assert.deepEqual(tokenHeat(['a', ' b'], 2, 'length', 1, [[0, 1, 2]]), { tokens: ['a', ' b'], values: [[1, 2]] });
});

test('columnMeans and the prompt-file line', () => {
  const m = columnMeans([{ column: 'baseline', trait: 10, coherence: 80 }, { column: 'baseline', trait: 30 }, { column: 'steered', trait: 90, coherence: 70 }]);
  assert.deepEqual(m, { baseline: { trait: 20, coherence: 80 }, steered: { trait: 90, coherence: 70 } });
  const line = JSON.parse(promptFileLine(validateRequest(form(), 4), { model: 'toy', revision: 'main', traits: ['evil'], vectorFile: () => 'vectors/a.safetensors' }));
  assert.equal(line.prompt, 'hi');
  assert.deepEqual(line.persona_lab.steer, [{ trait: 'evil', vector: 'vectors/a.safetensors', layer: 2, coef: 4 }]);
  assert.equal(line.persona_lab.scaling, 'raw');
  assert.equal(line.persona_lab.target_norm, undefined);
  // The prompt-file reader behind the editor's CodeLens actions reads the saved line as one prompt, settings ignored.
  const text = promptFileLine(validateRequest(form(), 4), { model: 'toy', revision: 'main', traits: ['evil'], vectorFile: () => 'v' });
  const parsed = parsePromptFile(`${text}\n${text}\n`, 'jsonl');
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.prompts.map((x) => x.text), ['hi', 'hi']);
});

test('messages from the webview are parsed: malformed ones are dropped, emptied numbers stay NaN', () => {
  assert.equal(parseFromWebview({ type: 'generate', request: { prompt: 1 } }), undefined);
  assert.equal(parseFromWebview({ type: 'nope' }), undefined);
  const g = parseFromWebview({ type: 'generate', request: { prompt: 'x', steer: [{ vector: 'a', layer: null, coef: 2 }], positions: 'bogus', scaling: 'unit', n: 1, seed: 0, temperature: 1, maxTokens: 3 } });
  assert.ok(g?.type === 'generate');
  assert.ok(Number.isNaN(g.request.steer[0].layer));
  assert.equal(g.request.positions, 'response');
  assert.equal(g.request.scaling, 'unit');
  assert.deepEqual(parseFromWebview({ type: 'judge', runId: 'run-1' }), { type: 'judge', runId: 'run-1' });
  assert.equal(parseState({ form: {} }), undefined);
  assert.equal(parseState({ source: '{"path":"/m"}' })?.source, '{"path":"/m"}');
});
