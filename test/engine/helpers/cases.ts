/** Named tiny configurations, each exercising something the HF parity fixtures do not. */
const base = { vocab_size: 96, max_position_embeddings: 64, rms_norm_eps: 1e-6, hidden_act: 'silu', rope_theta: 10000 };

export const CASES: Record<string, Record<string, any>> = {
  'llama head_dim≠H/heads, GQA, attention_bias, tied, llama3 rope': {
    ...base, architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, head_dim: 12, attention_bias: true, tie_word_embeddings: true,
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
  },
  'llama linear rope (legacy "type" key)': {
    ...base, architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 4, rope_scaling: { type: 'linear', factor: 2.5 },
  },
  'llama yarn via rope_parameters': {
    ...base, architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 2, num_key_value_heads: 1, rope_theta: undefined,
    rope_parameters: { rope_type: 'yarn', rope_theta: 5000, factor: 4, original_max_position_embeddings: 16 },
  },
  'mistral sliding window 3': {
    ...base, architectures: ['MistralForCausalLM'], model_type: 'mistral', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, sliding_window: 3,
  },
  'qwen2 use_sliding_window from layer 1': {
    ...base, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, use_sliding_window: true, sliding_window: 3, max_window_layers: 1, tie_word_embeddings: true,
  },
  'qwen3 per-head q/k norm, head_dim 16': {
    ...base, architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, rope_theta: 1000000,
  },
  'olmo3 default layer_types, window 3, scaling on full layers only': {
    ...base, architectures: ['Olmo3ForCausalLM'], model_type: 'olmo3', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 4,
    num_attention_heads: 4, num_key_value_heads: 2, sliding_window: 3, rope_scaling: { rope_type: 'linear', factor: 3 }, rms_norm_eps: 1e-6,
  },
  'olmo2 GQA': {
    ...base, architectures: ['Olmo2ForCausalLM'], model_type: 'olmo2', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-6,
  },
  'gpt2 transformer. prefix, untied, scale_attn_by_inverse_layer_idx': {
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 96, n_embd: 32, n_head: 4, n_layer: 2, n_positions: 32, n_inner: null,
    activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, scale_attn_by_inverse_layer_idx: true, tie_word_embeddings: false, _prefix: 'transformer.',
  },
  'gemma2 softcaps, sandwich norms, query_pre_attn_scalar, alternating window 3': {
    ...base, architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, hidden_act: undefined, hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: 24, attn_logit_softcapping: 1.5, final_logit_softcapping: 2.0, sliding_window: 3,
  },
  'gemma3 per-head (1+w) q/k norm, local rope base, 2-layer pattern': {
    ...base, architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 3,
    num_attention_heads: 4, num_key_value_heads: 1, head_dim: 16, hidden_act: undefined, hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: 16, sliding_window: 3, sliding_window_pattern: 2, rope_theta: 1000000, rope_local_base_freq: 100,
    rope_scaling: { rope_type: 'linear', factor: 4 },
  },
  'phi3 fused qkv/gate_up, partial rotary 0.5, sliding 4': {
    ...base, architectures: ['Phi3ForCausalLM'], model_type: 'phi3', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, partial_rotary_factor: 0.5, sliding_window: 4,
  },
  'apertus xIELU, per-head q/k norm, llama3 rope_parameters': {
    ...base, architectures: ['ApertusForCausalLM'], model_type: 'apertus', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, hidden_act: 'xielu', rope_theta: undefined,
    rope_parameters: { rope_type: 'llama3', rope_theta: 12000000, factor: 8, original_max_position_embeddings: 16, low_freq_factor: 1, high_freq_factor: 4 },
  },
};
