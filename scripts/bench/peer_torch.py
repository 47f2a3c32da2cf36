#!/usr/bin/env python3
"""PyTorch eager peer for `npm run bench`: the method researchers use today, written in plain torch.

An HF-faithful Llama-family forward (llama, mistral, qwen2, olmo2) with a KV cache, following the HF
modeling code op for op (float32 RMSNorm, rotate_half RoPE from position_ids, repeat_kv, additive
finfo.min masks, float32 softmax, eager attention). Steering is a forward hook on the decoder block,
copied from upstream persona_vectors' `ActivationSteerer` (positions all/prompt/response; the hook edits
element 0 of the block's output tuple). Extraction is upstream's `get_hidden_p_and_r`: one sequence per
forward with every hidden state, plus a batched (right-padded, PP-style) variant.

No `transformers` needed (Debian's python3-torch is enough; numpy is not used).

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout. Timing happens in here
(time.perf_counter around the work only), so the JSON transport is never timed.
Threads: the parent sets OMP_NUM_THREADS / OPENBLAS_NUM_THREADS in the environment before start;
`--intra N` calls torch.set_num_threads(N).
"""
import json
import math
import mmap
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


# ------------------------------------------------------------------ safetensors
def read_safetensors(path):
    """name -> tensor (float32 for float dtypes, as HF from_pretrained with the default float32 dtype)."""
    f = open(path, "rb")
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    n = struct.unpack("<Q", mm[:8])[0]
    header = json.loads(mm[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = DTYPES[info["dtype"]]
        count = (e - b) // torch.tensor([], dtype=dt).element_size()
        t = torch.frombuffer(mm, dtype=dt, count=count, offset=8 + n + b).reshape(info["shape"]) if count else torch.empty(info["shape"], dtype=dt)
        if dt in (torch.float16, torch.bfloat16):
            t = t.float()
        out[name] = t
    return out


def read_checkpoint(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for fn in files:
        w.update(read_safetensors(os.path.join(d, fn)))
    return w


# ------------------------------------------------------------------ model (HF modeling_llama / qwen2 / olmo2, eager)
class RMSNorm(nn.Module):
    def __init__(self, weight, eps, olmo):
        super().__init__()
        self.weight, self.eps, self.olmo = weight, eps, olmo

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        var = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps)
        if self.olmo:  # OLMo2: multiply first, then cast
            return (self.weight * x).to(dtype)
        return self.weight * x.to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, kv, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)


class DecoderLayer(nn.Module):
    def __init__(self, cfg, w, i):
        super().__init__()
        p = f"model.layers.{i}."
        self.cfg = cfg
        g = lambda n: w.get(p + n)
        self.q, self.k, self.v, self.o = g("self_attn.q_proj.weight"), g("self_attn.k_proj.weight"), g("self_attn.v_proj.weight"), g("self_attn.o_proj.weight")
        self.qb, self.kb, self.vb, self.ob = g("self_attn.q_proj.bias"), g("self_attn.k_proj.bias"), g("self_attn.v_proj.bias"), g("self_attn.o_proj.bias")
        self.gate, self.up, self.down = g("mlp.gate_proj.weight"), g("mlp.up_proj.weight"), g("mlp.down_proj.weight")
        eps = cfg["eps"]
        self.olmo = cfg["olmo"]
        if self.olmo:
            self.q_norm = RMSNorm(g("self_attn.q_norm.weight"), eps, True)
            self.k_norm = RMSNorm(g("self_attn.k_norm.weight"), eps, True)
            self.post_attn = RMSNorm(g("post_attention_layernorm.weight"), eps, True)
            self.post_ff = RMSNorm(g("post_feedforward_layernorm.weight"), eps, True)
        else:
            self.input_ln = RMSNorm(g("input_layernorm.weight"), eps, False)
            self.post_ln = RMSNorm(g("post_attention_layernorm.weight"), eps, False)

    def attn(self, x, cos, sin, mask, past):
        cfg = self.cfg
        b, s, _ = x.shape
        nh, nkv, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
        q = F.linear(x, self.q, self.qb)
        k = F.linear(x, self.k, self.kb)
        v = F.linear(x, self.v, self.vb)
        if self.olmo:
            q, k = self.q_norm(q), self.k_norm(k)
        q = q.view(b, s, nh, d).transpose(1, 2)
        k = k.view(b, s, nkv, d).transpose(1, 2)
        v = v.view(b, s, nkv, d).transpose(1, 2)
        c, sn = cos.unsqueeze(1), sin.unsqueeze(1)
        q = q * c + rotate_half(q) * sn
        k = k * c + rotate_half(k) * sn
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        kk, vv = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
        scores = torch.matmul(q, kk.transpose(2, 3)) * (d ** -0.5)
        scores = scores + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, vv).transpose(1, 2).reshape(b, s, nh * d)
        return F.linear(out, self.o, self.ob), present

    def mlp(self, x):
        return F.linear(F.silu(F.linear(x, self.gate)) * F.linear(x, self.up), self.down)

    def forward(self, h, cos, sin, mask, past):
        if self.olmo:
            a, present = self.attn(h, cos, sin, mask, past)
            h = h + self.post_attn(a)
            h = h + self.post_ff(self.mlp(h))
        else:
            a, present = self.attn(self.input_ln(h), cos, sin, mask, past)
            h = h + a
            h = h + self.mlp(self.post_ln(h))
        return (h, present)  # a tuple, like HF decoder layers: steering hooks edit element 0


class Model(nn.Module):
    def __init__(self, d):
        super().__init__()
        raw = json.load(open(os.path.join(d, "config.json")))
        mt = raw["model_type"]
        if mt not in ("llama", "mistral", "qwen2", "olmo2"):
            raise SystemExit(f"peer_torch: model_type {mt} is not supported (llama, mistral, qwen2, olmo2)")
        H, nh = raw["hidden_size"], raw["num_attention_heads"]
        self.cfg = cfg = {
            "hidden": H, "heads": nh, "kv_heads": raw.get("num_key_value_heads") or nh,
            "head_dim": raw.get("head_dim") or H // nh, "layers": raw["num_hidden_layers"],
            "eps": raw.get("rms_norm_eps", 1e-6), "theta": raw.get("rope_theta", 10000.0),
            "olmo": mt == "olmo2", "vocab": raw["vocab_size"],
        }
        if raw.get("rope_scaling"):
            raise SystemExit("peer_torch: rope_scaling is not supported")
        t0 = time.perf_counter()
        w = read_checkpoint(d)
        self.embed = w["model.embed_tokens.weight"]
        self.lm_head = w.get("lm_head.weight", self.embed)
        self.norm = RMSNorm(w["model.norm.weight"], cfg["eps"], cfg["olmo"])
        self.layers = nn.ModuleList([DecoderLayer(cfg, w, i) for i in range(cfg["layers"])])
        D = cfg["head_dim"]
        self.inv_freq = 1.0 / (cfg["theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
        self.load_s = time.perf_counter() - t0
        self.params = sum(t.numel() for n, t in w.items())
        self.weight_bytes = sum(t.numel() * t.element_size() for t in w.values())

    def rope(self, pos):
        inv = self.inv_freq[None, :, None].expand(pos.shape[0], -1, 1)
        freqs = (inv.float() @ pos[:, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    def forward(self, ids, pos, attn_mask, past=None, hidden=False, logits="last"):
        """ids/pos [B,S]; attn_mask [B, P+S] (1 real, 0 pad); returns (logits, presents, hidden_states)."""
        b, s = ids.shape
        P = 0 if past is None else past[0][0].shape[2]
        T = P + s
        h = F.embedding(ids, self.embed)
        cos, sin = self.rope(pos)
        q_idx = torch.arange(P, T)[:, None]
        k_idx = torch.arange(T)[None, :]
        allowed = (k_idx <= q_idx)[None, None] & (attn_mask[:, None, None, :] == 1)
        mask = torch.zeros(b, 1, s, T).masked_fill(~allowed, torch.finfo(torch.float32).min)
        hs = [h] if hidden else None
        presents = []
        for i, layer in enumerate(self.layers):
            out = layer(h, cos, sin, mask, None if past is None else past[i])
            h, present = out[0], out[1]
            presents.append(present)
            if hidden and i < len(self.layers) - 1:
                hs.append(h)
        h = self.norm(h)
        if hidden:
            hs.append(h)
        lg = None
        if logits == "last":
            lg = F.linear(h[:, -1:, :], self.lm_head)
        elif logits == "all":
            lg = F.linear(h, self.lm_head)
        return lg, presents, hs


# ------------------------------------------------------------------ upstream ActivationSteerer (persona_vectors activation_steer.py)
class ActivationSteerer:
    def __init__(self, model, steering_vector, coeff=1.0, layer_idx=-1, positions="all"):
        self.model, self.coeff, self.layer_idx, self.positions = model, float(coeff), layer_idx, positions.lower()
        self.vector = torch.as_tensor(steering_vector, dtype=torch.float32)
        if self.vector.ndim != 1 or self.vector.numel() != model.cfg["hidden"]:
            raise ValueError("steering vector must be 1-D with length hidden_size")
        self._handle = None

    def _hook_fn(self, module, ins, out):
        steer = self.coeff * self.vector

        def _add(t):
            if self.positions == "all":
                return t + steer
            elif self.positions == "prompt":
                return t if t.shape[1] == 1 else t + steer
            elif self.positions == "response":
                t2 = t.clone()
                t2[:, -1, :] += steer
                return t2
            raise ValueError(self.positions)

        if torch.is_tensor(out):
            return _add(out)
        if isinstance(out, (tuple, list)):
            return (_add(out[0]), *out[1:])
        return out

    def __enter__(self):
        self._handle = self.model.layers[self.layer_idx].register_forward_hook(self._hook_fn)
        return self

    def __exit__(self, *exc):
        if self._handle:
            self._handle.remove()
            self._handle = None


# ------------------------------------------------------------------ workloads
def generate(model, prompts, new_tokens, steps=None):
    """Greedy HF-style generate with a KV cache, left padding, EOS disabled; returns the new token ids.
    With `steps` (a list), appends each decode step's wall seconds: from one sampled token to the next
    (the cached forward of one token per row + argmax), the prefill excluded."""
    b = len(prompts)
    S = max(len(p) for p in prompts)
    ids = torch.zeros(b, S, dtype=torch.int64)
    mask = torch.zeros(b, S, dtype=torch.int64)
    for i, p in enumerate(prompts):
        ids[i, S - len(p):] = torch.tensor(p)
        mask[i, S - len(p):] = 1
    pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    out = []
    logits, past, _ = model(ids, pos, mask)
    t_prev = None
    for step in range(new_tokens):
        nxt = logits[:, -1, :].argmax(-1)
        out.append(nxt)
        if steps is not None:
            t = time.perf_counter()
            if t_prev is not None:
                steps.append(t - t_prev)
            t_prev = t
        if step == new_tokens - 1:
            break  # the last sampled token is never forwarded
        mask = torch.cat([mask, torch.ones(b, 1, dtype=torch.int64)], dim=1)
        pos = pos[:, -1:] + 1
        logits, past, _ = model(nxt[:, None], pos, mask, past)
    return torch.stack(out, dim=1)


def capture_one_by_one(model, items):
    """upstream get_hidden_p_and_r: one sequence per forward, all hidden states, three reductions per layer."""
    res = []
    for it in items:
        full = it["prompt"] + it["response"]
        pl = len(it["prompt"])
        ids = torch.tensor([full])
        pos = torch.arange(len(full))[None]
        _, _, hs = model(ids, pos, torch.ones_like(ids), hidden=True, logits="none")
        pa = torch.stack([h[:, :pl, :].mean(dim=1) for h in hs])
        ra = torch.stack([h[:, pl:, :].mean(dim=1) for h in hs])
        pl_last = torch.stack([h[:, pl - 1, :] for h in hs])
        res.append((pa, ra, pl_last))
    return res


def capture_batched(model, items, batch):
    """PP-style batched extraction: right padding, per-row valid lengths."""
    res = []
    for s in range(0, len(items), batch):
        chunk = items[s:s + batch]
        fulls = [it["prompt"] + it["response"] for it in chunk]
        T = max(len(f) for f in fulls)
        ids = torch.zeros(len(chunk), T, dtype=torch.int64)
        mask = torch.zeros(len(chunk), T, dtype=torch.int64)
        for i, f in enumerate(fulls):
            ids[i, :len(f)] = torch.tensor(f)
            mask[i, :len(f)] = 1
        pos = torch.arange(T)[None].expand(len(chunk), T)
        _, _, hs = model(ids, pos, mask, hidden=True, logits="none")
        st = torch.stack(hs)  # [L+1, B, T, H]
        for i, it in enumerate(chunk):
            pl, n = len(it["prompt"]), len(fulls[i])
            res.append((st[:, i, :pl].mean(dim=1), st[:, i, pl:n].mean(dim=1), st[:, i, pl - 1]))
    return res


# ------------------------------------------------------------------ parity against ../shared/fixtures/parity/<name>
def parity(d):
    model = Model(d)
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    errs = {}
    with torch.inference_mode():
        valid = exp["attention_mask"].bool()
        lg, _, hs = model(exp["input_ids"], exp["position_ids"], exp["attention_mask"], hidden=True, logits="all")
        errs["batch_logits"] = (lg - exp["logits"]).abs()[valid].max().item()
        errs["batch_hidden_states"] = (torch.stack(hs) - exp["hidden_states"]).abs()[:, valid].max().item()
        sid, spos = exp["single_input_ids"], exp["single_position_ids"]
        lg, _, hs = model(sid, spos, torch.ones_like(sid), hidden=True, logits="all")
        errs["single_logits"] = (lg - exp["single_logits"]).abs().max().item()
        errs["single_hidden_states"] = (torch.stack(hs) - exp["single_hidden_states"]).abs().max().item()
        k = int(exp["steer_layer"][0])
        with ActivationSteerer(model, exp["steer_vector"], coeff=float(exp["steer_coef"][0]), layer_idx=k, positions="all"):
            lg, _, hs = model(sid, spos, torch.ones_like(sid), hidden=True, logits="all")
        errs["steered_logits"] = (lg - exp["steered_logits"]).abs().max().item()
        errs["steered_hidden_states"] = (torch.stack(hs) - exp["steered_hidden_states"]).abs().max().item()
        # greedy with the KV cache (HF generate path) vs the recomputed reference
        toks = generate(model, [sid[0].tolist()], 5)[0].tolist()
        ok_tokens = toks == exp["greedy_new_tokens"].tolist()
        # step logits through the cache
        ids = sid
        mask = torch.ones_like(ids)
        logits, past, _ = model(ids, spos, mask)
        step = []
        pos = spos
        for t in exp["greedy_new_tokens"].tolist():
            step.append(logits[0, -1])
            mask = torch.cat([mask, torch.ones(1, 1, dtype=torch.int64)], dim=1)
            pos = pos[:, -1:] + 1
            logits, past, _ = model(torch.tensor([[t]]), pos, mask, past)
        errs["greedy_step_logits"] = (torch.stack(step) - exp["greedy_step_logits"]).abs().max().item()
    worst = max(errs.values())
    return {"fixture": os.path.basename(d.rstrip("/")), "max_abs_err": worst, "errors": errs, "greedy_tokens_equal": ok_tokens,
            "ok": worst <= 1e-4 and ok_tokens}


# ------------------------------------------------------------------ machine figures from torch
def machine(threads):
    n = 64 * 1024 * 1024  # 256 MB of float32
    a = torch.ones(n)
    b = torch.empty(n)
    b.copy_(a)
    copy, read = [], []
    for _ in range(5):
        t0 = time.perf_counter(); b.copy_(a); copy.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); a.sum(); read.append(time.perf_counter() - t0)
    m = k = nn_ = 1024
    x, y = torch.randn(256, k), torch.randn(nn_, k)
    F.linear(x, y)
    g = []
    for _ in range(5):
        t0 = time.perf_counter(); F.linear(x, y); g.append(time.perf_counter() - t0)
    del m
    return {"copy_gb_s": 2 * 4 * n / min(copy) / 1e9, "read_gb_s": 4 * n / min(read) / 1e9,
            "gemm_gflop_s": 2 * 256 * k * nn_ / min(g) / 1e9}


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def timed(fn, warmup, reps, warm_fn=None):
    for _ in range(warmup):
        (warm_fn or fn)()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return ts


def main():
    intra = None
    if "--intra" in sys.argv:
        intra = int(sys.argv[sys.argv.index("--intra") + 1])
        torch.set_num_threads(intra)
    torch.manual_seed(0)
    model = None
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        cmd = req["cmd"]
        try:
            with torch.inference_mode():
                if cmd == "hello":
                    res = {"torch": torch.__version__, "python": sys.version.split()[0], "executable": sys.executable, "intra_op_threads": torch.get_num_threads(),
                           "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
                           "parallel_info": torch.__config__.parallel_info()}
                elif cmd == "parity":
                    res = parity(req["dir"])
                elif cmd == "load":
                    model = None
                    model = Model(req["path"])
                    res = {"load_s": model.load_s, "params": model.params, "weight_bytes": model.weight_bytes, "peak_rss": peak_rss()}
                elif cmd == "gen":
                    prompts, nt = req["prompts"], req["new_tokens"]
                    st = req.get("steer")
                    steps = []

                    def run(n=nt, rec=None):
                        if st:
                            with ActivationSteerer(model, st["vector"], coeff=st["coef"], layer_idx=st["layer"] - 1, positions=st.get("positions", "response")):
                                return generate(model, prompts, n, rec)
                        return generate(model, prompts, n, rec)
                    wt = req.get("warmup_tokens", nt)
                    ts = timed(lambda: run(nt, steps), req.get("warmup", 1), req.get("reps", 3), lambda: run(wt))
                    res = {"times_s": ts, "tokens": len(prompts) * nt, "step_times_s": steps, "peak_rss": peak_rss()}
                elif cmd == "capture":
                    items, bs = req["items"], req.get("batch", 0)
                    run = (lambda: capture_batched(model, items, bs)) if bs else (lambda: capture_one_by_one(model, items))
                    ts = timed(run, req.get("warmup", 1), req.get("reps", 3))
                    res = {"times_s": ts, "tokens": sum(len(i["prompt"]) + len(i["response"]) for i in items), "peak_rss": peak_rss()}
                elif cmd == "rss":
                    res = {"peak_rss": peak_rss()}
                elif cmd == "machine":
                    res = machine(torch.get_num_threads())
                elif cmd == "exit":
                    break
                else:
                    raise ValueError(f"unknown command {cmd}")
            out.write(json.dumps({"ok": True, **res}) + "\n")
        except Exception as e:  # report and keep serving
            out.write(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
