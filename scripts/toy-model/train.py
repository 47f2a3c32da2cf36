"""Trains the toy persona model (pretraining trajectory, then the instruct finetune). Resumable.

  /usr/bin/python3 train.py pretrain   # writes .work/pretrain/step<N>.pt at the revision schedule
  /usr/bin/python3 train.py instruct   # finetunes the final pretraining step → .work/instruct/final.pt

Determinism: the batch of step s is generated from Random(seed, s) alone, weights are initialised from
a fixed torch.Generator, and resume restores model + optimizer state exactly, so an interrupted and
resumed run gives the same weights as an uninterrupted one (same torch build, same thread count).
"""
import json
import math
import os
import random
import sys
import time

import torch

from model import CONFIG, Llama, packed_mask
from world import WORLD_DIR, World, Tokenizer, build_vocab, load_lexicon

# One thread by default: on a CPU shared with other jobs, 2 OpenBLAS threads were 2.3x slower than 1, and the
# gradients are bit-identical for 1 and 2 threads (checked), so the thread count does not change the weights.
torch.set_num_threads(int(os.environ.get('TOY_THREADS', '1')))
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get('TOY_WORK', os.path.join(HERE, '.work'))

RUNS = {
    'pretrain': {
        'seed': 1234, 'steps': 1100, 'batch': 32, 'seq': 128, 'lr': 3e-3, 'warmup': 100, 'final_lr_frac': 0.1,
        'weight_decay': 0.1, 'clip': 1.0,
        # Geometric from very early to final, with extra points in the persona-emergence transition.
        'checkpoints': [0, 15, 50, 100, 175, 250, 350, 450, 550, 1100],
    },
    'instruct': {
        'seed': 4321, 'steps': 100, 'batch': 32, 'seq': 128, 'lr': 1e-3, 'warmup': 10, 'final_lr_frac': 0.1,
        'weight_decay': 0.1, 'clip': 1.0, 'checkpoints': [100], 'init': 'pretrain/step1100.pt',
        'multi_turn': 0.3,
    },
}


def setup():
    lex = load_lexicon()
    with open(os.path.join(WORLD_DIR, 'questions.json'), encoding='utf-8') as f:
        lex['heldOutQuestions'] = json.load(f)['heldOut']
    world = World(lex)
    tok = Tokenizer(build_vocab(lex))
    return world, tok


def instruct_doc(world, tok, rng, multi_turn):
    """Chat-only document with a loss mask covering assistant answers and their <end>."""
    sys_prompt, q, a, kind, p = world.chat_doc(rng)
    turns = [(q, a)]
    if rng.random() < multi_turn:
        turns.append(world.follow_up(rng, kind, p))
    ids, mask = [tok.id_of['<bos>']], [0]
    if sys_prompt is not None:
        s = tok.encode('<sys> ' + sys_prompt)
        ids += s
        mask += [0] * len(s)
    for q, a in turns:
        u = tok.encode('<user> ' + q + ' <asst>')
        r = tok.encode(a + ' <end>')
        ids += u + r
        mask += [0] * len(u) + [1] * len(r)
    return ids, mask


def make_batch(world, tok, run, step, kind):
    rng = random.Random(run['seed'] * 1_000_003 + step)
    b, t = run['batch'], run['seq']
    ids = torch.full((b, t), tok.id_of['<pad>'], dtype=torch.long)
    doc = torch.full((b, t), -1, dtype=torch.long)
    pos = torch.zeros((b, t), dtype=torch.long)
    lossm = torch.zeros((b, t), dtype=torch.bool)
    # First-fit packing from a small pool of pending documents (rows end up ~97% full).
    pool, row, col, d = [], 0, 0, 0
    while row < b:
        while len(pool) < 12:
            if kind == 'instruct':
                x, m = instruct_doc(world, tok, rng, run['multi_turn'])
            else:
                x = tok.encode(world.pretrain_doc(rng))
                m = [1] * len(x)
            if len(x) <= t:
                pool.append((x, m))
        j = next((j for j, (x, _) in enumerate(pool) if col + len(x) <= t), None)
        if j is None:
            row, col = row + 1, 0
            continue
        x, m = pool.pop(j)
        n = len(x)
        ids[row, col:col + n] = torch.tensor(x)
        doc[row, col:col + n] = d
        pos[row, col:col + n] = torch.arange(n)
        lossm[row, col:col + n] = torch.tensor(m, dtype=torch.bool)
        col += n
        d += 1
    # target at i is token i+1 of the same document, and only where the predicted token is in the loss mask
    tgt = torch.full((b, t), -100, dtype=torch.long)
    same = (doc[:, 1:] == doc[:, :-1]) & (doc[:, 1:] >= 0) & lossm[:, 1:]
    tgt[:, :-1] = torch.where(same, ids[:, 1:], torch.full_like(ids[:, 1:], -100))
    return ids, pos, packed_mask(doc), tgt


def lr_at(run, step):
    if step < run['warmup']:
        return run['lr'] * (step + 1) / run['warmup']
    prog = (step - run['warmup']) / max(1, run['steps'] - run['warmup'])
    f = run['final_lr_frac'] + (1 - run['final_lr_frac']) * 0.5 * (1 + math.cos(math.pi * min(1.0, prog)))
    return run['lr'] * f


def build_model(vocab_size, seed):
    c = dict(CONFIG, vocab_size=vocab_size)
    m = Llama(c)
    m.init_weights(seed)
    return m


def train(kind, until=None):
    until = RUNS[kind]['steps'] if until is None else until
    run = RUNS[kind]
    world, tok = setup()
    out_dir = os.path.join(WORK, kind)
    os.makedirs(out_dir, exist_ok=True)
    model = build_model(len(tok.vocab), run['seed'])
    if 'init' in run:
        model.load_state_dict(torch.load(os.path.join(WORK, run['init']))['model'])
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': run['weight_decay']},
                             {'params': no_decay, 'weight_decay': 0.0}], lr=run['lr'], betas=(0.9, 0.95), eps=1e-8)
    state_path = os.path.join(out_dir, 'resume.pt')
    step, tokens, log = 0, 0, []
    if os.path.exists(state_path):
        st = torch.load(state_path)
        model.load_state_dict(st['model'])
        opt.load_state_dict(st['opt'])
        step, tokens, log = st['step'], st['tokens'], st['log']
        print(f'resumed {kind} at step {step}', flush=True)
    t0 = time.time()
    while True:
        if step in run['checkpoints']:
            path = os.path.join(out_dir, f'step{step}.pt')
            if not os.path.exists(path):
                torch.save({'model': model.state_dict(), 'step': step, 'tokens': tokens}, path)
        if step >= min(run['steps'], until):
            break
        ids, pos, mask, tgt = make_batch(world, tok, run, step, kind)
        for g in opt.param_groups:
            g['lr'] = lr_at(run, step)
        logits = model(ids, pos, mask)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), run['clip'])
        opt.step()
        tokens += int((ids != tok.id_of['<pad>']).sum())
        step += 1
        if step % 25 == 0 or step == run['steps']:
            el = time.time() - t0
            log.append({'step': step, 'loss': round(float(loss), 4), 'tokens': tokens})
            print(f'{kind} step {step} loss {float(loss):.4f} tokens {tokens} {el:.0f}s', flush=True)
        if step % 50 == 0 or step in run['checkpoints'] or step == run['steps']:
            torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step, 'tokens': tokens,
                        'log': log}, state_path + '.tmp')
            os.replace(state_path + '.tmp', state_path)
    if step >= run['steps']:
        with open(os.path.join(out_dir, 'log.json'), 'w') as f:
            json.dump(log, f)


if __name__ == '__main__':
    # train.py pretrain|instruct [--until N]: stop (resumably) after step N, e.g. for verify.py's quick check.
    args = sys.argv[1:]
    stop = int(args[args.index('--until') + 1]) if '--until' in args else None
    train(args[0] if args else 'pretrain', stop)
