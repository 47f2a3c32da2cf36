// model/config.ts: RoPE parameters against an independent float64 computation, key aliases,
// family defaults (layer types, windows, tying, soft-caps) and config errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lookupArchitecture } from '../../src/engine/arch/registry.js';
import { ConfigError, normalizeConfig, type ArchConfig } from '../../src/engine/model/config.js';
import { referenceRope } from './helpers/reference.js';

const norm = (raw: Record<string, unknown>): ArchConfig => normalizeConfig(raw, lookupArchitecture(raw).defaults(String(raw.model_type)));
const llama = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 4, vocab_size: 10, intermediate_size: 8, max_position_embeddings: 64 };

describe('RoPE parameters', () => {
  const cases: Record<string, Record<string, unknown>> = {
    default: { rope_theta: 500000 },
    linear: { rope_scaling: { rope_type: 'linear', factor: 4 } },
    dynamic: { rope_scaling: { type: 'dynamic', factor: 2 } },
    llama3: { rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8 } },
    'yarn (mscale, untruncated)': { rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16, mscale: 0.707, mscale_all_dim: 1, truncate: false, beta_fast: 16 } },
    'yarn via rope_parameters': { rope_parameters: { rope_type: 'yarn', rope_theta: 20000, factor: 8, original_max_position_embeddings: 8 } },
    'longrope (partial rotary)': { partial_rotary_factor: 0.5, original_max_position_embeddings: 16, rope_scaling: { type: 'longrope', short_factor: [1, 1.5, 2, 4], long_factor: [1, 1, 1, 1] } },
  };
  for (const [name, extra] of Object.entries(cases)) {
    test(name, () => {
      const raw = { ...llama, ...extra };
      const rope = norm(raw).rope!;
      const ref = referenceRope(raw, 16, false);
      assert.equal(rope.rotaryDim, ref.dim);
      assert.ok(Math.abs(rope.attentionScaling - ref.scale) < 1e-12, `scaling ${rope.attentionScaling} vs ${ref.scale}`);
      rope.invFreq.forEach((v, i) => assert.ok(Math.abs(v - ref.inv[i]) <= 1e-6 * ref.inv[i], `inv_freq[${i}] ${v} vs ${ref.inv[i]}`));
    });
  }
  test('unknown rope type names the supported ones', () => {
    assert.throws(() => norm({ ...llama, rope_scaling: { rope_type: 'ntk-by-parts', factor: 2 } }), (e) => e instanceof ConfigError && /ntk-by-parts/.test(e.message) && /llama3/.test(e.message));
    assert.throws(() => norm({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8 } }), /low_freq_factor/);
  });
});

describe('normalization', () => {
  test('GPT-2 key aliases and defaults', () => {
    const c = norm({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 48, n_head: 3, n_layer: 2, n_positions: 32, vocab_size: 50, n_inner: null });
    assert.deepEqual([c.hiddenSize, c.numHeads, c.numKvHeads, c.headDim, c.numLayers, c.maxPositions, c.intermediateSize], [48, 3, 3, 16, 2, 32, 192]);
    assert.equal(c.tieWordEmbeddings, true);
    assert.equal(c.rope, null);
    assert.equal(c.activation, 'gelu_tanh');
    assert.equal(c.normEps, 1e-5);
  });
  test('layer types per family', () => {
    const types = (raw: Record<string, unknown>) => norm(raw).layerTypes.map((t) => (t === 'sliding_attention' ? 'S' : 'F')).join('');
    assert.equal(types({ ...llama, architectures: ['Olmo3ForCausalLM'], model_type: 'olmo3', num_hidden_layers: 8 }), 'SSSFSSSF');
    assert.equal(norm({ ...llama, architectures: ['Olmo3ForCausalLM'], model_type: 'olmo3' }).slidingWindow, 4096);
    assert.equal(types({ ...llama, architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', num_hidden_layers: 4 }), 'SFSF');
    assert.equal(types({ ...llama, architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', num_hidden_layers: 7 }), 'SSSSSFS');
    assert.equal(types({ ...llama, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', sliding_window: 8, use_sliding_window: true, max_window_layers: 2 }), 'FFSS');
    assert.equal(types({ ...llama, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', sliding_window: 8, use_sliding_window: false }), 'FFFF');
    assert.equal(types({ ...llama, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 8 }), 'SSSS');
    assert.equal(types({ ...llama, sliding_window: 8 }), 'FFFF', 'LlamaConfig ignores sliding_window');
    assert.equal(types({ ...llama, architectures: ['Olmo3ForCausalLM'], model_type: 'olmo3', layer_types: ['full_attention', 'sliding_attention', 'full_attention', 'sliding_attention'], sliding_window: 5 }), 'FSFS');
  });
  test('tying, biases, soft-caps and score scale defaults', () => {
    assert.equal(norm({ ...llama, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' }).qkvBias, true);
    assert.equal(norm({ ...llama, architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3' }).qkvBias, false);
    const g2 = norm({ ...llama, architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2' });
    assert.deepEqual([g2.tieWordEmbeddings, g2.attnSoftcap, g2.finalSoftcap, g2.attnScale], [true, 50, 30, 256 ** -0.5]);
    assert.equal(norm({ ...llama, architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', final_logit_softcapping: null }).finalSoftcap, null);
    assert.equal(norm({ ...llama, head_dim: 32 }).attnScale, 32 ** -0.5);
    const ap = norm({ ...llama, architectures: ['ApertusForCausalLM'], model_type: 'apertus' });
    assert.equal(ap.rope!.type, 'llama3');
    assert.equal(ap.rope!.theta, 12_000_000);
  });
  test('errors', () => {
    assert.throws(() => norm({ ...llama, num_key_value_heads: 3 }), (e) => e instanceof ConfigError && /multiple/.test(e.message));
    assert.throws(() => norm({ ...llama, layer_types: ['full_attention'] }), /layer_types has 1 entries/);
    assert.throws(() => norm({ ...llama, architectures: ['Olmo3ForCausalLM'], model_type: 'olmo3', sliding_window: null, layer_types: Array(4).fill('sliding_attention') }), /sliding_window is not set/);
    assert.throws(() => norm({ ...llama, hidden_act: 'swiglu-oai' }), /activation "swiglu-oai"/);
    const { hidden_size: _h, ...noHidden } = llama;
    assert.throws(() => norm(noHidden), /hidden_size/);
  });
});
