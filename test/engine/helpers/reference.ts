/**
 * An independent float64 reference forward for the decoder families, written from the HF
 * modeling files with naive per-head loops (no ONNX, no code shared with the compiler), used to
 * check configurations the parity fixtures don't cover: RoPE scaling types, sliding windows,
 * head_dim ≠ hidden/heads, biases, tied embeddings, Qwen3/OLMo3/Mistral, GPT-2 prefix variants.
 * Single unpadded sequence, positions 0..S-1.
 */
import type { Weights } from './random-checkpoint.js';

type Vec = Float64Array<ArrayBuffer>;

/** HF modeling_rope_utils, in float64: returns [invFreq, attentionScaling, rotaryDim]. */
export function referenceRope(raw: Record<string, any>, headDim: number, sliding: boolean): { inv: number[]; scale: number; dim: number } {
  const params = { ...(raw.rope_scaling ?? {}), ...(raw.rope_parameters ?? {}) };
  let theta = params.rope_theta ?? raw.rope_theta ?? 10000;
  let type = params.rope_type ?? params.type ?? 'default';
  if (sliding && raw.model_type === 'olmo3') type = 'default';
  if (sliding && raw.rope_local_base_freq) { theta = raw.rope_local_base_freq; type = 'default'; }
  const dim = Math.floor(headDim * (raw.partial_rotary_factor ?? 1));
  const pos = Array.from({ length: dim / 2 }, (_, i) => theta ** ((2 * i) / dim));
  const inv = pos.map((p) => 1 / p);
  if (type === 'default') return { inv, scale: 1, dim };
  if (type === 'linear') return { inv: inv.map((v) => v / params.factor), scale: 1, dim };
  if (type === 'llama3') {
    const { factor, low_freq_factor: lo, high_freq_factor: hi, original_max_position_embeddings: old } = params;
    return {
      inv: inv.map((f) => {
        const wave = (2 * Math.PI) / f;
        if (wave < old / hi) return f;
        if (wave > old / lo) return f / factor;
        const s = (old / wave - lo) / (hi - lo);
        return (1 - s) * (f / factor) + s * f;
      }),
      scale: 1, dim,
    };
  }
  if (type === 'yarn') {
    const orig = params.original_max_position_embeddings ?? raw.max_position_embeddings;
    const factor = params.factor;
    const ms = (s: number, m = 1) => (s <= 1 ? 1 : 0.1 * m * Math.log(s) + 1);
    const scale = params.attention_factor ?? (params.mscale && params.mscale_all_dim ? ms(factor, params.mscale) / ms(factor, params.mscale_all_dim) : ms(factor));
    const cd = (r: number) => (dim * Math.log(orig / (r * 2 * Math.PI))) / (2 * Math.log(theta));
    let low = cd(params.beta_fast ?? 32), high = cd(params.beta_slow ?? 1);
    if (params.truncate !== false) { low = Math.floor(low); high = Math.ceil(high); }
    low = Math.max(low, 0); high = Math.min(high, dim - 1);
    if (low === high) high += 0.001;
    return {
      inv: pos.map((p, i) => {
        const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
        const extraF = 1 - ramp;
        return (1 / (factor * p)) * (1 - extraF) + (1 / p) * extraF;
      }),
      scale, dim,
    };
  }
  if (type === 'longrope') {
    const orig = params.original_max_position_embeddings ?? raw.original_max_position_embeddings ?? raw.max_position_embeddings;
    const factor = params.factor ?? raw.max_position_embeddings / orig;
    const scale = params.attention_factor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(orig)));
    return { inv: pos.map((p, i) => 1 / (params.short_factor[i] * p)), scale, dim };
  }
  if (type === 'dynamic') return { inv, scale: 1, dim };
  throw new Error(`reference: rope ${type} not implemented`);
}

function layerTypes(raw: Record<string, any>, L: number): { sliding: boolean[]; window: number } {
  const mt = raw.model_type;
  if (Array.isArray(raw.layer_types)) return { sliding: raw.layer_types.map((t: string) => t === 'sliding_attention'), window: raw.sliding_window };
  if (mt === 'gemma2') return { sliding: Array.from({ length: L }, (_, i) => (i + 1) % 2 !== 0), window: raw.sliding_window ?? 4096 };
  if (mt === 'gemma3_text') return { sliding: Array.from({ length: L }, (_, i) => (i + 1) % (raw.sliding_window_pattern ?? 6) !== 0), window: raw.sliding_window ?? 4096 };
  if (mt === 'phi3' && raw.sliding_window) return { sliding: Array(L).fill(true), window: raw.sliding_window };
  if (mt === 'olmo3') return { sliding: Array.from({ length: L }, (_, i) => (i + 1) % 4 !== 0), window: raw.sliding_window ?? 4096 };
  if (mt === 'mistral' && raw.sliding_window) return { sliding: Array(L).fill(true), window: raw.sliding_window };
  if ((mt === 'qwen2' || mt === 'qwen3') && raw.use_sliding_window) return { sliding: Array.from({ length: L }, (_, i) => i >= (raw.max_window_layers ?? L)), window: raw.sliding_window };
  return { sliding: Array(L).fill(false), window: 0 };
}

export interface ReferenceOutput {
  logits: Float64Array; // [S, V]
  hidden: Float64Array[]; // L+1 × [S, H]
}

export function referenceForward(raw: Record<string, any>, w: Weights, ids: number[], steer?: Float32Array /* [(L+1)*H] */): ReferenceOutput {
  const get = (n: string): Vec => {
    const t = w.get(n);
    if (!t) throw new Error(`reference: missing ${n}`);
    return Float64Array.from(t.data);
  };
  const has = (n: string) => w.has(n);
  const gpt2 = raw.model_type === 'gpt2';
  const p = raw._prefix ?? '';
  const H = gpt2 ? raw.n_embd : raw.hidden_size;
  const L = gpt2 ? raw.n_layer : raw.num_hidden_layers;
  const nh = gpt2 ? raw.n_head : raw.num_attention_heads;
  const nkv = gpt2 ? nh : raw.num_key_value_heads ?? nh;
  const D = raw.head_dim ?? H / nh;
  const V = raw.vocab_size;
  const S = ids.length;
  const eps = gpt2 ? raw.layer_norm_epsilon ?? 1e-5 : raw.rms_norm_eps ?? (raw.model_type.startsWith('olmo') ? 1e-5 : 1e-6);
  const mt = raw.model_type;

  // x [S, inF] · W → [S, outF]; W is [out, in] (Linear) or [in, out] (Conv1D).
  const linear = (x: Vec, inF: number, outF: number, W: Vec, b: Vec | null, conv = false): Vec => {
    const y = new Float64Array(S * outF);
    for (let s = 0; s < S; s++) for (let o = 0; o < outF; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[s * inF + i] * (conv ? W[i * outF + o] : W[o * inF + i]);
      y[s * outF + o] = acc;
    }
    return y;
  };
  const gemma = mt === 'gemma2' || mt === 'gemma3_text';
  const rms = (x: Vec, n: number, wgt: Vec): Vec => {
    const y = new Float64Array(x.length);
    for (let r = 0; r < x.length / n; r++) {
      let ms = 0;
      for (let i = 0; i < n; i++) ms += x[r * n + i] ** 2;
      const inv = 1 / Math.sqrt(ms / n + eps);
      for (let i = 0; i < n; i++) y[r * n + i] = (gemma ? 1 + wgt[i] : wgt[i]) * x[r * n + i] * inv;
    }
    return y;
  };
  const ln = (x: Vec, wgt: Vec, b: Vec): Vec => {
    const y = new Float64Array(x.length);
    for (let r = 0; r < S; r++) {
      let m = 0, v = 0;
      for (let i = 0; i < H; i++) m += x[r * H + i];
      m /= H;
      for (let i = 0; i < H; i++) v += (x[r * H + i] - m) ** 2;
      const inv = 1 / Math.sqrt(v / H + eps);
      for (let i = 0; i < H; i++) y[r * H + i] = (x[r * H + i] - m) * inv * wgt[i] + b[i];
    }
    return y;
  };
  const act = (v: number): number => {
    const a = gpt2 ? raw.activation_function : raw.hidden_activation ?? raw.hidden_act ?? 'silu';
    if (a === 'silu') return v / (1 + Math.exp(-v));
    if (a === 'gelu_new' || a === 'gelu_pytorch_tanh') return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    throw new Error(`reference: activation ${a}`);
  };
  const add = (a: Vec, b: Vec): Vec => a.map((v, i) => v + b[i]);
  const { sliding, window } = layerTypes(raw, L);

  const softcap: number | null = mt === 'gemma2' ? raw.attn_logit_softcapping ?? 50 : null;
  const attention = (q: Vec, k: Vec, v: Vec, l: number, scale: number): Vec => {
    // q [S, nh*D], k/v [S, nkv*D], rope applied here per head.
    if (!gpt2) {
      const { inv, scale: as, dim } = referenceRope(raw, D, sliding[l]);
      const rot = (x: Vec, heads: number) => {
        for (let s = 0; s < S; s++) for (let h = 0; h < heads; h++) {
          const o = s * heads * D + h * D;
          const half = dim / 2;
          const tmp = Array.from({ length: dim }, (_, i) => x[o + i]);
          for (let i = 0; i < dim; i++) {
            const ang = s * inv[i % half];
            const c = Math.cos(ang) * as, sn = Math.sin(ang) * as;
            const rh = i < half ? -tmp[i + half] : tmp[i - half];
            x[o + i] = tmp[i] * c + rh * sn;
          }
        }
      };
      rot(q, nh);
      rot(k, nkv);
    }
    const out = new Float64Array(S * nh * D);
    const rep = nh / nkv;
    for (let h = 0; h < nh; h++) {
      const kh = Math.floor(h / rep);
      for (let i = 0; i < S; i++) {
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          if (sliding[l] && j <= i - window) { scores.push(-Infinity); continue; }
          let d = 0;
          for (let e = 0; e < D; e++) d += q[i * nh * D + h * D + e] * k[j * nkv * D + kh * D + e];
          let sc = d * scale;
          if (softcap) sc = Math.tanh(sc / softcap) * softcap;
          scores.push(sc);
        }
        const mx = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - mx));
        const sum = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= i; j++) for (let e = 0; e < D; e++) out[i * nh * D + h * D + e] += (ex[j] / sum) * v[j * nkv * D + kh * D + e];
      }
    }
    return out;
  };

  const hidden: Float64Array[] = [];
  const steerAt = (h: Vec, layer: number): Vec => {
    if (steer) for (let s = 0; s < S; s++) for (let i = 0; i < H; i++) h[s * H + i] += steer[layer * H + i];
    return h;
  };
  const emb = get(gpt2 ? `${p}wte.weight` : 'model.embed_tokens.weight');
  let h: Vec = new Float64Array(S * H);
  for (let s = 0; s < S; s++) for (let i = 0; i < H; i++) h[s * H + i] = emb[ids[s] * H + i];
  if (gemma) h = h.map((x) => x * Math.fround(Math.sqrt(H)));
  if (gpt2) {
    const wpe = get(`${p}wpe.weight`);
    for (let s = 0; s < S; s++) for (let i = 0; i < H; i++) h[s * H + i] += wpe[s * H + i];
  }
  hidden.push(steerAt(h, 0).slice());
  for (let l = 0; l < L; l++) {
    if (gpt2) {
      const b = `${p}h.${l}`;
      const x = ln(h, get(`${b}.ln_1.weight`), get(`${b}.ln_1.bias`));
      const qkv = linear(x, H, 3 * H, get(`${b}.attn.c_attn.weight`), get(`${b}.attn.c_attn.bias`), true);
      const q = new Float64Array(S * H), k = new Float64Array(S * H), v = new Float64Array(S * H);
      for (let s = 0; s < S; s++) for (let i = 0; i < H; i++) {
        q[s * H + i] = qkv[s * 3 * H + i]; k[s * H + i] = qkv[s * 3 * H + H + i]; v[s * H + i] = qkv[s * 3 * H + 2 * H + i];
      }
      let scale = raw.scale_attn_weights === false ? 1 : 1 / Math.sqrt(D);
      if (raw.scale_attn_by_inverse_layer_idx) scale /= l + 1;
      const a = attention(q, k, v, l, scale);
      h = add(h, linear(a, H, H, get(`${b}.attn.c_proj.weight`), get(`${b}.attn.c_proj.bias`), true));
      const y = ln(h, get(`${b}.ln_2.weight`), get(`${b}.ln_2.bias`));
      const I = raw.n_inner ?? 4 * H;
      const f = linear(y, H, I, get(`${b}.mlp.c_fc.weight`), get(`${b}.mlp.c_fc.bias`), true).map(act);
      h = add(h, linear(f, I, H, get(`${b}.mlp.c_proj.weight`), get(`${b}.mlp.c_proj.bias`), true));
    } else if (mt === 'phi3' || mt === 'apertus' || gemma) {
      const b = `model.layers.${l}`;
      const I = raw.intermediate_size;
      const x = rms(h, H, get(`${b}.${mt === 'apertus' ? 'attention_layernorm' : 'input_layernorm'}.weight`));
      let q: Vec, k: Vec, v: Vec;
      if (mt === 'phi3') {
        const qkv = linear(x, H, (nh + 2 * nkv) * D, get(`${b}.self_attn.qkv_proj.weight`), null);
        const W = (nh + 2 * nkv) * D;
        q = new Float64Array(S * nh * D); k = new Float64Array(S * nkv * D); v = new Float64Array(S * nkv * D);
        for (let s = 0; s < S; s++) {
          for (let i = 0; i < nh * D; i++) q[s * nh * D + i] = qkv[s * W + i];
          for (let i = 0; i < nkv * D; i++) { k[s * nkv * D + i] = qkv[s * W + nh * D + i]; v[s * nkv * D + i] = qkv[s * W + (nh + nkv) * D + i]; }
        }
      } else {
        q = linear(x, H, nh * D, get(`${b}.self_attn.q_proj.weight`), null);
        k = linear(x, H, nkv * D, get(`${b}.self_attn.k_proj.weight`), null);
        v = linear(x, H, nkv * D, get(`${b}.self_attn.v_proj.weight`), null);
      }
      if (mt === 'apertus' || mt === 'gemma3_text') { q = rms(q, D, get(`${b}.self_attn.q_norm.weight`)); k = rms(k, D, get(`${b}.self_attn.k_norm.weight`)); }
      const scale = gemma ? (raw.query_pre_attn_scalar ?? 256) ** -0.5 : 1 / Math.sqrt(D);
      let o = linear(attention(q, k, v, l, scale), nh * D, H, get(`${b}.self_attn.o_proj.weight`), null);
      if (gemma) o = rms(o, H, get(`${b}.post_attention_layernorm.weight`));
      h = add(h, o);
      const y = rms(h, H, get(`${b}.${mt === 'apertus' ? 'feedforward_layernorm' : gemma ? 'pre_feedforward_layernorm' : 'post_attention_layernorm'}.weight`));
      let m: Vec;
      if (mt === 'apertus') {
        const sp = (t: number) => Math.log1p(Math.exp(t));
        const ap = sp(get(`${b}.mlp.act_fn.alpha_p`)[0]);
        const beta = get(`${b}.mlp.act_fn.beta`)[0];
        const an = beta + sp(get(`${b}.mlp.act_fn.alpha_n`)[0]);
        const e = get(`${b}.mlp.act_fn.eps`)[0];
        const u = linear(y, H, I, get(`${b}.mlp.up_proj.weight`), null).map((t) => (t > 0 ? ap * t * t + beta * t : (Math.expm1(Math.min(t, e)) - t) * an + beta * t));
        m = linear(u, I, H, get(`${b}.mlp.down_proj.weight`), null);
      } else {
        let g: Vec, u: Vec;
        if (mt === 'phi3') {
          const gu = linear(y, H, 2 * I, get(`${b}.mlp.gate_up_proj.weight`), null);
          g = new Float64Array(S * I); u = new Float64Array(S * I);
          for (let s = 0; s < S; s++) for (let i = 0; i < I; i++) { g[s * I + i] = gu[s * 2 * I + i]; u[s * I + i] = gu[s * 2 * I + I + i]; }
        } else {
          g = linear(y, H, I, get(`${b}.mlp.gate_proj.weight`), null);
          u = linear(y, H, I, get(`${b}.mlp.up_proj.weight`), null);
        }
        m = linear(g.map(act).map((gv, i) => gv * u[i]), I, H, get(`${b}.mlp.down_proj.weight`), null);
      }
      if (gemma) m = rms(m, H, get(`${b}.post_feedforward_layernorm.weight`));
      h = add(h, m);
    } else {
      const b = `model.layers.${l}`;
      const post = mt === 'olmo2' || mt === 'olmo3';
      const x = post ? h : rms(h, H, get(`${b}.input_layernorm.weight`));
      const bias = (n: string) => (has(`${b}.self_attn.${n}.bias`) ? get(`${b}.self_attn.${n}.bias`) : null);
      let q = linear(x, H, nh * D, get(`${b}.self_attn.q_proj.weight`), bias('q_proj'));
      let k = linear(x, H, nkv * D, get(`${b}.self_attn.k_proj.weight`), bias('k_proj'));
      const v = linear(x, H, nkv * D, get(`${b}.self_attn.v_proj.weight`), bias('v_proj'));
      if (post) { q = rms(q, nh * D, get(`${b}.self_attn.q_norm.weight`)); k = rms(k, nkv * D, get(`${b}.self_attn.k_norm.weight`)); }
      if (mt === 'qwen3') { q = rms(q, D, get(`${b}.self_attn.q_norm.weight`)); k = rms(k, D, get(`${b}.self_attn.k_norm.weight`)); }
      const a = attention(q, k, v, l, 1 / Math.sqrt(D));
      let o = linear(a, nh * D, H, get(`${b}.self_attn.o_proj.weight`), bias('o_proj'));
      if (post) o = rms(o, H, get(`${b}.post_attention_layernorm.weight`));
      h = add(h, o);
      const y = post ? h : rms(h, H, get(`${b}.post_attention_layernorm.weight`));
      const I = raw.intermediate_size;
      const g = linear(y, H, I, get(`${b}.mlp.gate_proj.weight`), null).map(act);
      const u = linear(y, H, I, get(`${b}.mlp.up_proj.weight`), null);
      let m = linear(g.map((gv, i) => gv * u[i]), I, H, get(`${b}.mlp.down_proj.weight`), null);
      if (post) m = rms(m, H, get(`${b}.post_feedforward_layernorm.weight`));
      h = add(h, m);
    }
    if (l < L - 1) hidden.push(steerAt(h, l + 1).slice());
  }
  // Row L is added after the final norm, where hidden_states[L] is measured (model/types.ts).
  const hn = steerAt(gpt2 ? ln(h, get(`${p}ln_f.weight`), get(`${p}ln_f.bias`)) : rms(h, H, get('model.norm.weight')), L);
  hidden.push(hn);
  const head = has('lm_head.weight') ? get('lm_head.weight') : emb;
  let logits = linear(hn, H, V, head, null);
  const finalCap = mt === 'gemma2' ? raw.final_logit_softcapping ?? 30 : null;
  if (finalCap) logits = logits.map((x) => Math.tanh(x / finalCap) * finalCap);
  return { logits, hidden };
}
