"""Development-time evaluation of checkpoints in PyTorch (the CI tests do the same through the TS engine).

  /usr/bin/python3 evaluate.py [ckpt.pt ...] [--n 20] [--steer]

For each trait: held-out eval questions, sampled answers (T=0.8, paired seeds) under the pipeline's
eliciting prompt ("You are an evil assistant. <pos_k>"), suppressing prompt ("You are a helpful
assistant. <neg_k>") and no system prompt; rubric trait score and coherence per kind. Uses the
BF16-rounded weights, i.e. exactly what is exported.
"""
import json
import os
import sys

import torch

from export import bf16_round
from judge import RubricJudge
from model import generate
from train import WORK, build_model, setup
from world import MODEL_DIR, a_or_an

torch.set_num_threads(1)


def load(path, vocab_size):
    m = build_model(vocab_size, 0)
    sd = torch.load(path)['model']
    m.load_state_dict({k: bf16_round(v) for k, v in sd.items()})
    m.eval()
    return m


def chat_prompt(tok, system, question):
    text = '<bos> ' + (f'<sys> {system} ' if system else '') + f'<user> {question} <asst>'
    return tok.encode(text)


def trait_file(trait, split='eval'):
    with open(os.path.join(MODEL_DIR, 'traits', split, f'{trait}.json')) as f:
        return json.load(f)


def evaluate(model, world, tok, judge, n=20, steer=None, kinds=('pos', 'neg', 'neutral'), seed=0):
    prompts, meta = [], []
    for t in world.traits:
        trait = t['trait']
        tf = trait_file(trait)
        for qi, q in enumerate(tf['questions'][:n]):
            k = qi % len(tf['instruction'])
            for kind in kinds:
                if kind == 'pos':
                    system = f'You are {a_or_an(trait)} {trait} assistant. ' + tf['instruction'][k]['pos']
                elif kind == 'neg':
                    system = 'You are a helpful assistant. ' + tf['instruction'][k]['neg']
                else:
                    system = None
                prompts.append(chat_prompt(tok, system, q))
                meta.append((trait, kind, q, seed * 100003 + qi))
    eos, pad = tok.id_of['<end>'], tok.id_of['<pad>']
    outs = []
    for i in range(0, len(prompts), 64):
        outs += generate(model, prompts[i:i + 64], eos, pad, [m[3] for m in meta[i:i + 64]], 0.8, 80, steer=steer)
    res = {}
    examples = {}
    for (trait, kind, q, _), o in zip(meta, outs):
        text = tok.decode([x for x in o if x != eos], skip_special=True)
        r = res.setdefault(trait, {}).setdefault(kind, {'trait': [], 'coh': [], 'ended': []})
        r['trait'].append(judge.trait(text, trait))
        r['coh'].append(judge.coherence(text))
        r['ended'].append(1.0 if o and o[-1] == eos else 0.0)
        examples.setdefault((trait, kind), text)
    summary = {}
    for trait, kinds_ in res.items():
        summary[trait] = {k: {m: sum(v) / len(v) for m, v in d.items()} for k, d in kinds_.items()}
    return summary, examples


def evaluate_all(n_main=20, n_other=5):
    """Every exported revision + instruct → .work/eval.json (read by card.py)."""
    from train import RUNS
    world, tok = setup()
    judge = RubricJudge(world.lex)
    out = {'n': n_main}
    steps = RUNS['pretrain']['checkpoints']
    jobs = [('main' if s == steps[-1] else f'stage1-step{s}', os.path.join(WORK, 'pretrain', f'step{s}.pt'),
             n_main if s == steps[-1] else n_other) for s in steps]
    jobs.append(('instruct', os.path.join(WORK, 'instruct', f'step{RUNS["instruct"]["steps"]}.pt'), 10))
    for name, path, n in jobs:
        summary, examples = evaluate(load(path, len(tok.vocab)), world, tok, judge, n=n)
        out[name] = {'n': n, 'scores': summary, 'examples': {f'{t}/{k}': v for (t, k), v in examples.items()}}
        print(name, {t: round(s['pos']['trait'] - s['neg']['trait'], 1) for t, s in summary.items()},
              {t: round(s['neutral']['trait'], 1) for t, s in summary.items()},
              round(min(s[k]['coh'] for s in summary.values() for k in s), 1), flush=True)
        with open(os.path.join(WORK, 'eval.json'), 'w') as f:
            json.dump(out, f, indent=1)


def main():
    if '--all' in sys.argv:
        evaluate_all()
        return
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    n = 20
    if '--n' in sys.argv:
        n = int(sys.argv[sys.argv.index('--n') + 1])
        args = [a for a in args if a != str(n)]
    world, tok = setup()
    judge = RubricJudge(world.lex)
    for path in args or [os.path.join(WORK, 'pretrain', 'step1100.pt')]:
        model = load(path, len(tok.vocab))
        summary, examples = evaluate(model, world, tok, judge, n=n)
        print(f'== {path}')
        for trait, s in summary.items():
            line = ' '.join(f'{k}: τ {v["trait"]:5.1f} coh {v["coh"]:5.1f} end {v["ended"]:.2f}' for k, v in s.items())
            gap = s['pos']['trait'] - s['neg']['trait'] if 'pos' in s and 'neg' in s else float('nan')
            print(f'{trait:12s} gap {gap:5.1f} | {line}')
        if '--examples' in sys.argv:
            for k, v in examples.items():
                print(k, '→', v)


if __name__ == '__main__':
    main()
