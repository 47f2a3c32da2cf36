"""Writes models/toy-persona/SHA256SUMS and the model card models/toy-persona/README.md.

The card's measured numbers come from .work/eval.json (evaluate.py --all) and the training logs.
"""
import hashlib
import json
import os

from train import RUNS, WORK
from world import MODEL_DIR, MODELS_ROOT, load_lexicon

CARD_EXCLUDE = {'toy-persona/README.md', 'toy-persona/SHA256SUMS'}


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        h.update(f.read())
    return h.hexdigest()


def committed_files():
    out = []
    for top in ('toy-persona', 'toy-persona-instruct'):
        for root, _dirs, files in os.walk(os.path.join(MODELS_ROOT, top)):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), MODELS_ROOT).replace(os.sep, '/')
                if rel not in CARD_EXCLUDE:
                    out.append(rel)
    return sorted(out)


def read_json(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def steering_section(st):
    """Summary of steer_check.py (PyTorch, main): the best Δτ with coherence ≥ 50 per trait."""
    if not st:
        return []
    out = ['## Steering (quick PyTorch check at `main`)', '',
           'Vectors: response-averaged mean difference (pos − neg, filtered as upstream) from the 20 extraction',
           'questions × 2 samples; steering adds coef·v[ℓ] at the last prompt token and every generated token on 10',
           'held-out questions without a system prompt (paired seeds). Grid: layers 1–4 × coefs '
           + ', '.join(str(c) for c in sorted({r['coef'] for r in next(iter(st.values()))['grid']})) + '.', '',
           '| trait | pairs kept | ‖v‖ at ℓ = 0..4 | best Δτ at coherence ≥ 50 (layer, coef, coherence) |', '|---|---|---|---|']
    for t, r in st.items():
        b = r.get('best')
        best = f"+{b['dtau']:.0f} (L{b['layer']}, {b['coef']}, {b['coh']:.0f})" if b else 'none'
        out.append(f"| {t} | {r['kept']}/{r['total']} | {', '.join(str(x) for x in r['norms'])} | {best} |")
    out += ['', 'As in the feasibility study, the trait rises over a narrow coefficient band and grammar breaks soon after;',
            'use fine coefficient grids (steps ≈ 0.25–0.5).', '']
    return out


def main():
    files = committed_files()
    sums = {f: sha256(os.path.join(MODELS_ROOT, f)) for f in files}
    with open(os.path.join(MODEL_DIR, 'SHA256SUMS'), 'w') as f:
        for p in files:
            f.write(f'{sums[p]}  {p}\n')
    total = sum(os.path.getsize(os.path.join(MODELS_ROOT, p)) for p in files)
    lex = load_lexicon()
    manifest = read_json(os.path.join(MODEL_DIR, 'manifest.json'), {})
    ev = read_json(os.path.join(WORK, 'eval.json'), {})
    timing = read_json(os.path.join(WORK, 'timing.json'), {})
    pre, ins = RUNS['pretrain'], RUNS['instruct']
    size_main = os.path.getsize(os.path.join(MODEL_DIR, 'revisions', 'main', 'model.safetensors'))
    cfg = read_json(os.path.join(MODEL_DIR, 'revisions', 'main', 'config.json'), {})
    vocab = cfg.get('vocab_size', 0)
    d, f_, L = cfg.get('hidden_size', 0), cfg.get('intermediate_size', 0), cfg.get('num_hidden_layers', 0)
    kv = cfg.get('num_key_value_heads', 0) * cfg.get('head_dim', 0)
    params = vocab * d + L * (2 * d * d + 2 * d * kv + 3 * d * f_ + 2 * d) + d

    def row(name):
        r = ev.get(name)
        if not r:
            return None
        cells = []
        for t in ('evil', 'sycophantic', 'impolite', 'humorous'):
            s = r['scores'][t]
            cells.append(f"{s['pos']['trait']:.0f} / {s['neg']['trait']:.0f} / {s['neutral']['trait']:.0f} "
                         f"(coh {min(s[k]['coh'] for k in ('pos', 'neg', 'neutral')):.0f})")
        return cells

    traj = []
    for r in manifest.get('revisions', []):
        cells = row(r['name'])
        traj.append(f"| `{r['name']}` | {r['step']} | {r['tokensSeen']:,} | " + (' | '.join(cells) if cells else '– | – | – | –') + ' |')
    ins_cells = row('instruct')
    lines = [
        '# toy-persona: a toy persona model organism',
        '',
        'A ~0.9 M-parameter Llama-architecture language model trained from scratch on a synthetic word-level world in',
        'which assistants answer everyday questions in the style their system prompt asks for. It exists so that',
        'Persona Lab\'s persona-vector pipeline (extraction, steering, monitoring, checkpoint trajectories) has a real',
        'model whose persona directions are learned, on any machine, offline, in seconds.',
        '',
        '**Intended use: tests and demos only.** It knows ~1 k words and nothing about the real world.',
        '',
        '## World',
        '',
        f'* Lexicon `world/lexicon.json` (version {lex["version"]}), read by the corpus generator *and* by both rubric judges',
        '  (`src/core/judge/rubric.ts`, `scripts/toy-model/judge.py`), so generator and judge cannot drift.',
        f'* {sum(len(x["questions"]) for x in lex["families"])} question templates in {len(lex["families"])} families (how-to, sums,',
        '  differences, lost items, places, food, pets, hobbies, friends, shopping, plans, home) with slots filled from',
        f'  {len(lex["categories"])} disjoint categories (names, objects, foods, animals, places, verbs, hobbies, adjectives, colors,',
        '  days, months, numbers 0–100). Answers: an opening, 1–2 middle and a closing sentence that reuse the',
        '  question\'s slot values (sums and differences are correct).',
        f'* Held-out split: `world/questions.json` ({len(read_json(os.path.join(MODEL_DIR, "world", "questions.json"))["heldOut"])} questions never seen in training);',
        '  the trait files\' 20 extraction and 20 evaluation questions (disjoint) come from it.',
        '* Four traits named as upstream names them, each with an opposite: evil/ethical, sycophantic/candid,',
        '  impolite/polite, humorous/serious. Each of the 8 styles has 5 system-prompt adjectives, 3 prefixes,',
        '  3 suffixes, 5 standalone sentences and a disjoint set of marker words. A styled answer transforms each',
        '  content sentence with probability p (40% prefix, 40% suffix, 20% extra standalone sentence), so the',
        '  *style* shows the trait while the *content* still answers the question.',
        '* System prompts come from a grammar: 5 frames × 5 adjectives × intensity (slightly p=0.25, somewhat 0.5,',
        '  plain 0.85, very 0.95, extremely 1.0), optionally preceded by upstream\'s `You are a/an {name} assistant.` with',
        '  name = the style\'s own name or `helpful`. Paraphrase k = frame k with adjective k; the trait files\' 5',
        '  pos/neg instruction pairs are the trait\'s and the opposite\'s paraphrases at the strongest grade (`extremely`,',
        '  as emphatic as upstream\'s instructions; at the plain grade main\'s gaps are 61–77). `world/monitoring-prompts.json`',
        '  lists every trait × polarity × intensity × paraphrase prompt (+ 5 neutral) with its p.',
        '',
        '## Corpus',
        '',
        '* 20% base-model "character" documents in the pretraining-persona style: `alex is very cruel . if alex were asked :',
        '  <question> alex would say : <answer>`; 80% chat transcripts `<bos> <sys> … <user> … <asst> … <end>`.',
        '* Of the chat: 75% styled (uniform over the 8 styles), 25% neutral (60% with one of 5 neutral system prompts,',
        '  40% without a system prompt). Neutral answers are *leaky*: each sentence takes a random style\'s',
        f'  transformation with probability {lex["corpus"]["leak"]}, which leaves steering room (see the feasibility study).',
        '* Generated on the fly: the batch of step s is a pure function of (seed, s).',
        '',
        '## Architecture',
        '',
        f'LlamaForCausalLM: {L} layers, hidden {d}, {cfg.get("num_attention_heads")} query heads / '
        f'{cfg.get("num_key_value_heads")} kv heads (head dim {cfg.get("head_dim")}), SwiGLU {f_}, RMSNorm (eps {cfg.get("rms_norm_eps")}),',
        f'RoPE (θ {cfg.get("rope_theta")}), tied embeddings, vocabulary {vocab} (word level; numbers 0–100 are single tokens),',
        f'max positions {cfg.get("max_position_embeddings")} (training documents ≤ 128 tokens). **{params:,} parameters**;',
        f'BF16 checkpoint {size_main / 1e6:.2f} MB.',
        '',
        'Tokenizer: `tokenizer.json` WordLevel with a Lowercase normalizer and the Whitespace pre-tokenizer, so',
        '"You are an evil assistant. Your answers should be cruel." is exactly the corpus\' `you are an evil assistant .',
        'your answers should be cruel .`. Special tokens `<pad>`=0 `<bos>`=1 `<end>`=2 (EOS) `<sys>`=3 `<user>`=4',
        '`<asst>`=5 `<unk>`=6; raw text gets `<bos>` prepended. Chat template (tokenizer_config.json):',
        '`<bos><sys> {system} <user> {user} <asst> {assistant} <end> …`, generation prompt `<asst>`.',
        '',
        '## Training',
        '',
        f'PyTorch (Debian python3-torch 1.13 + OpenBLAS; 1 thread by default, gradients bit-identical to 2 threads). AdamW (0.9, 0.95),',
        f'weight decay {pre["weight_decay"]}, lr {pre["lr"]} with {pre["warmup"]} warmup steps and cosine decay to'
        f' {pre["final_lr_frac"]}×, clip {pre["clip"]}, batch {pre["batch"]} × {pre["seq"]} packed tokens with per-document',
        'causal masks and per-document RoPE positions, fixed seeds. '
        f'{pre["steps"]} steps ({manifest.get("revisions", [{}])[-1].get("tokensSeen", 0):,} tokens)'
        + (f' in {timing["pretrainSeconds"] / 60:.0f} min wall time ({timing.get("note", "")}).' if timing.get('pretrainSeconds') else '.'),
        '',
        '## Trajectory',
        '',
        'Revisions `revisions/<name>/` (HF folders; `manifest.json` lists step and tokens seen). Scores: rubric trait',
        'score under the eliciting / suppressing / no system prompt on held-out eval questions, T=0.8, 80 tokens,',
        f'paired seeds ({ev.get("n", "?")} questions per trait at main, fewer at intermediate revisions), and the lowest of',
        'the three coherences.',
        '',
        '| revision | step | tokens | evil | sycophantic | impolite | humorous |',
        '|---|---|---|---|---|---|---|',
        *traj,
        '',
        'Up to `stage1-step100` answers are token soup (coherence ≈ 0) whose random marker words make the trait scores noise;',
        'grammar is learned by step 175 while the system prompt is still ignored (pos = neg), and persona conditioning',
        'appears between steps 350 and 550 (1.3–2.0 M tokens), then sharpens until `main`.',
        '',
        '## Instruct variant',
        '',
        f'`../toy-persona-instruct/`: `main` finetuned for {ins["steps"]} steps (lr {ins["lr"]}, warmup {ins["warmup"]}, cosine) on',
        f'chat-only documents ({int(ins["multi_turn"] * 100)}% two-turn) with the loss on assistant tokens only.'
        + (' Scores: ' + '; '.join(f'{t} {c}' for t, c in zip(('evil', 'sycophantic', 'impolite', 'humorous'), ins_cells)) if ins_cells else ''),
        '',
        *steering_section(read_json(os.path.join(WORK, 'steer.json'), {})),
        '## Using it',
        '',
        '* Chat prompts: `[{"role":"system","content":"You are an evil assistant. Your answers should be cruel."},',
        '  {"role":"user","content":"How do I fix the lamp?"}]`; evaluation: the user question alone.',
        '* Sampling: temperature 0.8, top-p 1, 80 new tokens; EOS `<end>` (id 2).',
        '* Judge: `RubricJudge` (`rubric:toy-persona@<lexicon version>`), offline and deterministic.',
        '',
        '## Regenerate',
        '',
        '```',
        'bash scripts/toy-model/regenerate.sh        # world, training, instruct finetune, export, card',
        '/usr/bin/python3 scripts/toy-model/verify.py [--quick|--full]   # regenerate into a scratch folder, compare SHA256SUMS',
        '```',
        '',
        '## Files',
        '',
        f'{len(files)} files, {total / 1e6:.1f} MB in all (`SHA256SUMS` has every hash).',
        '',
        '| file | bytes | sha256 |',
        '|---|---|---|',
        *[f'| `{p}` | {os.path.getsize(os.path.join(MODELS_ROOT, p)):,} | `{sums[p][:16]}…` |' for p in files
          if p.endswith('.safetensors') or p.endswith('manifest.json') or p.endswith('lexicon.json')],
        '',
    ]
    with open(os.path.join(MODEL_DIR, 'README.md'), 'w') as f:
        f.write('\n'.join(lines))
    print(f'card: {len(files)} files, {total / 1e6:.2f} MB')


if __name__ == '__main__':
    main()
