#!/usr/bin/env python3
"""The GPU peer for scripts/gpu-check.sh: what researchers run today on a GPU — Hugging Face
`transformers` `generate` with a KV cache, steering by a forward hook on the decoder block exactly as
upstream persona_vectors' `ActivationSteerer` (positions "response": the last position of every
forward), activation capture as one batched forward with `output_hidden_states=True` — on the same
checkpoint folder the engine benchmarks (token-id prompts: the bench models have no tokenizer).

    python3 scripts/gpu-peer.py MODEL_DIR [--batch 20] [--prompt-tokens 64] [--new-tokens 64]
        [--dtypes float32,float16] [--reps 3] [--out FILE]

Prints one JSON object (and writes it to --out): per dtype, tokens/s of plain and steered generation
and of capture at the batch size, the peak CUDA memory, the versions used. Greedy decoding, EOS
disabled (every row generates exactly --new-tokens). Median of --reps after one warm-up.

Exit codes: 0 figures written; 3 skipped — torch with CUDA or transformers is not installed, or no
CUDA device (the JSON says which; gpu-check.sh records it and goes on); 1 a failure while running.
Needs nothing from the network: the model folder is local.
"""
import argparse
import json
import statistics
import sys
import time


def skip(reason, out):
    doc = {"skipped": reason}
    print(json.dumps(doc))
    if out:
        with open(out, "w") as f:
            json.dump(doc, f, indent=2)
    sys.exit(3)


class ActivationSteerer:
    """Upstream persona_vectors activation_steer.py, positions as upstream (all / prompt / response)."""

    def __init__(self, layer_module, vector, coeff, positions="response"):
        self.layer, self.vector, self.coeff, self.positions = layer_module, vector, float(coeff), positions
        self.handle = None

    def _hook(self, module, ins, out):
        steer = (self.coeff * self.vector)

        def add(t):
            s = steer.to(t.dtype)
            if self.positions == "all":
                return t + s
            if self.positions == "prompt":
                return t if t.shape[1] == 1 else t + s
            t2 = t.clone()
            t2[:, -1, :] += s
            return t2

        if isinstance(out, (tuple, list)):
            return (add(out[0]), *out[1:])
        return add(out)

    def __enter__(self):
        self.handle = self.layer.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--dtypes", default="float32,float16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--coef", type=float, default=4.0)
    ap.add_argument("--out")
    a = ap.parse_args()

    try:
        import torch
    except ImportError:
        skip("torch is not installed (pip install torch with CUDA, or Debian's python3-torch has no CUDA)", a.out)
    if not torch.cuda.is_available():
        skip(f"torch {torch.__version__} sees no CUDA device (CUDA build: {torch.version.cuda})", a.out)
    try:
        import transformers
        from transformers import AutoModelForCausalLM
    except ImportError:
        skip("transformers is not installed", a.out)

    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    result = {
        "peer": "transformers generate + ActivationSteerer forward hook (response positions), capture = batched forward with output_hidden_states",
        "model_dir": a.model_dir, "batch": a.batch, "prompt_tokens": a.prompt_tokens, "new_tokens": a.new_tokens, "reps": a.reps,
        "torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0), "dtypes": {},
    }
    for name in [d.strip() for d in a.dtypes.split(",") if d.strip()]:
        dtype = getattr(torch, name)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(a.model_dir, torch_dtype=dtype, attn_implementation="eager").to(dev).eval()
        torch.cuda.synchronize()
        load_s = time.perf_counter() - t0
        cfg = model.config
        L, H, V = cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size
        ids = torch.randint(1, V, (a.batch, a.prompt_tokens), generator=g).to(dev)
        mask = torch.ones_like(ids)
        vec = torch.randn(H, generator=g)
        vec = (vec / vec.norm()).to(dev)
        layer = model.model.layers[L // 2 - 1]  # hidden_states[L//2] = output of block L//2 - 1

        def gen():
            with torch.no_grad():
                out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=a.new_tokens,
                                     min_new_tokens=a.new_tokens, eos_token_id=None, pad_token_id=0)
            torch.cuda.synchronize()
            return out

        def steered():
            with ActivationSteerer(layer, vec, a.coef):
                return gen()

        plain_out = gen()
        full = plain_out  # prompt + response ids for capture
        resp_start = a.prompt_tokens

        def capture():
            with torch.no_grad():
                hs = model(input_ids=full, attention_mask=torch.ones_like(full), output_hidden_states=True).hidden_states
                red = [(h[:, :resp_start].float().mean(1), h[:, resp_start:].float().mean(1), h[:, resp_start - 1].float()) for h in hs]
            torch.cuda.synchronize()
            return red

        def timed(fn):
            fn()  # warm-up
            times = []
            for _ in range(a.reps):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            return statistics.median(times)

        t_gen, t_steer, t_cap = timed(gen), timed(steered), timed(capture)
        new = a.batch * a.new_tokens
        result["dtypes"][name] = {
            "load_s": round(load_s, 3),
            "gen_tok_s": round(new / t_gen, 1),
            "steered_gen_tok_s": round(new / t_steer, 1),
            "steering_overhead": round(t_steer / t_gen - 1, 4),
            "capture_items_s": round(a.batch / t_cap, 1),
            "capture_tok_s": round(full.numel() / t_cap, 1),
            "peak_cuda_bytes": torch.cuda.max_memory_allocated(),
        }
        print(f"gpu-peer: {name}: {result['dtypes'][name]}", file=sys.stderr)
        del model
    print(json.dumps(result))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # one line, no stack trace, for gpu-check.sh's JSON
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
