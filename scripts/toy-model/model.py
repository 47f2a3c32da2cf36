"""A minimal Llama (HF LlamaForCausalLM semantics) in plain PyTorch 1.13.

Matches HF exactly where the exported checkpoint is concerned: RMSNorm computed in fp32
(x * rsqrt(mean(x^2) + eps) * w), rotate-half RoPE with inv_freq = theta^(-2i/d), grouped-query
attention (kv heads repeated), SwiGLU MLP (down(silu(gate(x)) * up(x))), tied LM head, and HF
parameter names. Training uses packed rows with block-diagonal (per-document) causal masks and
per-document positions; generation uses a KV cache with left padding.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = {
    'vocab_size': None,  # filled from the tokenizer
    'hidden_size': 128,
    'intermediate_size': 352,
    'num_hidden_layers': 4,
    'num_attention_heads': 4,
    'num_key_value_heads': 2,
    'head_dim': 32,
    'max_position_embeddings': 256,
    'rms_norm_eps': 1e-5,
    'rope_theta': 10000.0,
}


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = c['num_attention_heads'], c['num_key_value_heads'], c['head_dim']
        d = c['hidden_size']
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)

    def forward(self, x, cos, sin, mask, cache=None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache.get('k') is not None:
                k = torch.cat([cache['k'], k], dim=2)
                v = torch.cat([cache['v'], v], dim=2)
            cache['k'], cache['v'] = k, v
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        att = att.masked_fill(~mask, float('-inf'))
        att = torch.softmax(att.float(), dim=-1).to(q.dtype)
        out = (att @ v).transpose(1, 2).reshape(b, t, self.nh * self.hd)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f = c['hidden_size'], c['intermediate_size']
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])
        self.post_attention_layernorm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])

    def forward(self, x, cos, sin, mask, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c['vocab_size'], c['hidden_size'])
        self.layers = nn.ModuleList([Block(c) for _ in range(c['num_hidden_layers'])])
        self.norm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        hd = c['head_dim']
        inv = 1.0 / (c['rope_theta'] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer('inv_freq', inv, persistent=False)

    def init_weights(self, seed):
        g = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            if name.endswith('layernorm.weight') or name == 'model.norm.weight':
                p.data.fill_(1.0)
            else:
                p.data.normal_(0.0, 0.02, generator=g)

    def rope(self, pos):
        f = pos[..., None].float() * self.inv_freq
        emb = torch.cat([f, f], dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]

    def forward(self, ids, pos, mask, caches=None, steer=None, return_hidden=False):
        """ids/pos [B,T]; mask [B,1,T,S] bool. steer: {layer: tensor [B,H] or [H]} added to hidden_states[layer]
        (residual after `layer` blocks) at the last position of this call (upstream 'response' steering)."""
        x = self.model.embed_tokens(ids)
        cos, sin = self.rope(pos)
        hidden = [x] if return_hidden else None
        n = len(self.model.layers)
        if steer and 0 in steer:
            x = x.clone()
            x[:, -1] = x[:, -1] + steer[0]
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, mask, caches[i] if caches is not None else None)
            if steer and (i + 1) in steer:
                x = x.clone()
                x[:, -1] = x[:, -1] + steer[i + 1]
            if return_hidden and i + 1 < n:
                hidden.append(x)
        h = self.model.norm(x)
        if return_hidden:
            hidden.append(h)
        logits = h @ self.model.embed_tokens.weight.t()
        return (logits, hidden) if return_hidden else logits

    def param_count(self):
        return sum(p.numel() for p in self.parameters())


def packed_mask(doc):
    """doc [B,T] document ids (−1 for padding) → [B,1,T,T] causal & same-document mask."""
    t = doc.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    same = doc[:, :, None] == doc[:, None, :]
    m = same & causal[None]
    # padding rows attend to themselves so softmax stays finite (their loss is masked anyway)
    eye = torch.eye(t, dtype=torch.bool)[None]
    return (m | eye)[:, None]


@torch.no_grad()
def generate(model, prompts, eos_id, pad_id, rng_seeds, temperature=0.8, max_new=80, steer=None):
    """Sample continuations for token-id prompts (left padded, KV cache). One torch.Generator per row,
    seeded from rng_seeds, so a row's output depends only on (prompt, seed, steer)."""
    b = len(prompts)
    plen = max(len(p) for p in prompts)
    ids = torch.full((b, plen), pad_id, dtype=torch.long)
    att = torch.zeros(b, plen, dtype=torch.bool)
    for i, p in enumerate(prompts):
        ids[i, plen - len(p):] = torch.tensor(p)
        att[i, plen - len(p):] = True
    pos = (att.long().cumsum(1) - 1).clamp(min=0)
    caches = [{} for _ in model.model.layers]
    gens = [torch.Generator().manual_seed(int(s)) for s in rng_seeds]
    out = [[] for _ in range(b)]
    done = [False] * b
    full_att = att
    causal = torch.ones(plen, plen, dtype=torch.bool).tril()
    mask = (causal[None] & full_att[:, None, :])[:, None]
    mask = mask | torch.eye(plen, dtype=torch.bool)[None, None]
    logits = model(ids, pos, mask, caches, steer=steer)[:, -1]
    next_pos = pos[:, -1] + 1
    for _ in range(max_new):
        toks = []
        for i in range(b):
            if temperature <= 0:
                t = int(logits[i].argmax())
            else:
                pr = torch.softmax(logits[i].float() / temperature, -1)
                t = int(torch.multinomial(pr, 1, generator=gens[i]))
            if not done[i]:
                out[i].append(t)
                if t == eos_id:
                    done[i] = True
            toks.append(t)
        if all(done):
            break
        full_att = torch.cat([full_att, torch.ones(b, 1, dtype=torch.bool)], 1)
        mask = full_att[:, None, None, :]
        x = torch.tensor(toks)[:, None]
        logits = model(x, next_pos[:, None], mask, caches, steer=steer)[:, -1]
        next_pos = next_pos + 1
    return out
