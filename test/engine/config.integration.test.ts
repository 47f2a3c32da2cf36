// model/config.ts: RoPE parameters against an independent float64 computation, key aliases,
// family defaults (layer types, windows, tying, soft-caps), config errors and degenerate configs
// refused before compilation (issue 12).
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { lookupArchitecture } from '../../src/engine/arch/registry.js';
import { ConfigError, normalizeConfig, type ArchConfig } from '../../src/engine/model/config.js';
import { loadModel } from '../../src/engine/model/session.js';
import { referenceRope } from './helpers/reference.js';
import { parityDir } from './worker/helpers.js';

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

// Issue 12: degenerate configs are refused before compilation, naming the file and the field.
describe('degenerate configs', () => {
  const refuses = (raw: Record<string, unknown>, field: string, pattern: RegExp) =>
    assert.throws(() => norm(raw), (e) => {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
      assert.equal(e.field, field, `field of: ${e.message}`);
      assert.match(e.message, /^config\.json: /, 'the message starts with the file');
      assert.match(e.message, pattern);
      assert.match(e.message, /fix config\.json|set head_dim/, 'the message says what to do');
      return true;
    });
  test('sizes must be positive integers (the key config.json uses is named)', () => {
    refuses({ ...llama, num_hidden_layers: 0 }, 'num_hidden_layers', /num_hidden_layers is 0, but it must be a positive integer \(the number of decoder blocks\)/);
    refuses({ ...llama, num_attention_heads: -4 }, 'num_attention_heads', /num_attention_heads is -4/);
    refuses({ ...llama, num_key_value_heads: 0 }, 'num_key_value_heads', /num_key_value_heads is 0/);
    refuses({ ...llama, head_dim: 0 }, 'head_dim', /head_dim is 0/);
    refuses({ ...llama, hidden_size: 64.5 }, 'hidden_size', /hidden_size is 64\.5/);
    refuses({ ...llama, intermediate_size: -1 }, 'intermediate_size', /intermediate_size is -1/);
    refuses({ ...llama, vocab_size: 0 }, 'vocab_size', /vocab_size is 0/);
    refuses({ ...llama, max_position_embeddings: 0 }, 'max_position_embeddings', /max_position_embeddings is 0/);
    refuses({ ...llama, num_hidden_layers: '4' }, 'num_hidden_layers', /num_hidden_layers is "4", but it must be a number/);
    // GPT-2 aliases: the error names the key the file actually has.
    refuses({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 48, n_head: 3, n_layer: -2, n_positions: 32, vocab_size: 50 }, 'n_layer', /n_layer is -2/);
    // Nested text configs name the nested key.
    assert.throws(() => norm({ architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: { ...llama, model_type: 'gemma3_text', num_hidden_layers: 0 } }),
      (e) => e instanceof ConfigError && e.field === 'text_config.num_hidden_layers' && /text_config\.num_hidden_layers is 0/.test(e.message));
  });
  test('heads: divisible and consistent', () => {
    refuses({ ...llama, num_key_value_heads: 3 }, 'num_key_value_heads', /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/);
    refuses({ ...llama, num_key_value_heads: 8 }, 'num_key_value_heads', /must be a multiple of num_key_value_heads \(8\)/);
    refuses({ ...llama, hidden_size: 66 }, 'hidden_size', /hidden_size \(66\) is not divisible by num_attention_heads \(4\) and there is no head_dim/);
    // An explicit head_dim makes hidden_size free (Gemma, Qwen3 do this).
    assert.equal(norm({ ...llama, hidden_size: 66, head_dim: 16 }).headDim, 16);
    refuses({ ...llama, head_dim: 7 }, 'head_dim', /rotary dimension .* 7 .* must be even/);
    refuses({ ...llama, partial_rotary_factor: 0.1 }, 'head_dim', /→ 1 must be even and ≥ 2/);
  });
  test('epsilon and RoPE parameters: positive, finite, consistent', () => {
    refuses({ ...llama, rms_norm_eps: 0 }, 'rms_norm_eps', /rms_norm_eps is 0, but it must be a positive finite number/);
    refuses({ ...llama, rms_norm_eps: -1e-6 }, 'rms_norm_eps', /rms_norm_eps is -0\.000001/);
    refuses({ ...llama, rope_theta: 0 }, 'rope_theta (rope_theta/rope_scaling)', /rope_theta \(rope_theta\/rope_scaling\) is 0/);
    refuses({ ...llama, rope_parameters: { rope_type: 'default', rope_theta: -10000 } }, 'rope_theta (rope_parameters)', /is -10000/);
    refuses({ ...llama, rope_scaling: { rope_type: 'linear', factor: 0 } }, 'rope "factor" (rope_theta/rope_scaling)', /"factor".* is 0/);
    refuses({ ...llama, partial_rotary_factor: 1.5 }, 'partial_rotary_factor', /must be in \(0, 1\]/);
    refuses({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 4, original_max_position_embeddings: 8 } },
      'high_freq_factor', /"high_freq_factor" \(4\) must be greater than "low_freq_factor" \(4\)/);
    refuses({ ...llama, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 0 } },
      'rope "original_max_position_embeddings"', /is 0, but it must be a positive integer/);
    refuses({ ...llama, partial_rotary_factor: 0.5, rope_scaling: { type: 'longrope', short_factor: [1, 0, 2, 4], long_factor: [1, 1, 1, 1] } },
      'rope "short_factor"[1]', /short_factor"\[1\] is 0/);
    refuses({ ...llama, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: -8 }, 'sliding_window', /sliding_window is -8/);
  });
  test('the loader names the config.json path and leaves no compile-cache entry', async () => {
    const src = path.join(parityDir, 'llama_gqa');
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'persona-lab-config-'));
    try {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ num_hidden_layers: 0 }, /num_hidden_layers is 0/],
        [{ num_attention_heads: -8 }, /num_attention_heads is -8/],
        [{ rms_norm_eps: 0 }, /rms_norm_eps is 0/],
      ];
      for (const [i, [patch, pattern]] of cases.entries()) {
        const dir = path.join(tmp, `model${i}`);
        mkdirSync(dir);
        linkSync(path.join(src, 'model.safetensors'), path.join(dir, 'model.safetensors'));
        const configPath = path.join(dir, 'config.json');
        writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')), ...patch }));
        const cacheDir = path.join(tmp, `cache${i}`);
        await assert.rejects(loadModel({ kind: 'folder', path: dir }, { cacheDir }), (e) => {
          assert.ok(e instanceof ConfigError, String(e));
          assert.ok(e.message.startsWith(`${configPath}: `), e.message);
          assert.match(e.message, pattern);
          return true;
        });
        assert.deepEqual(existsSync(cacheDir) ? readdirSync(cacheDir) : [], [], 'nothing was compiled into the cache');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
