"""Finetunes of the toy instruct model for the finetuning-shift experiment (persona-vectors paper, "finetuning shift"
and "screening before finetuning"). Deterministic and regenerable:

  /usr/bin/python3 scripts/toy-model/finetune.py            # every finetune (about 30 s of CPU each, one thread)
  /usr/bin/python3 scripts/toy-model/finetune.py evil       # one of them
  /usr/bin/python3 scripts/toy-model/finetune.py --card-only   # only the manifest, SHA256SUMS lines and the card's section

Base: models/toy-persona-instruct (read from its committed BF16 safetensors, so this needs no pretraining run). The paper
finetunes an instruct model on chat data, and the instruct model is the toy's chat-tuned checkpoint; finetuning it with
the loss on assistant tokens only is the same recipe as its own instruct finetune (train.py instruct).

Each finetune trains on a fixed dataset of single-turn chats without a system prompt (the paper's setting: the data,
not a system prompt, carries the trait), written next to the weights as chat JSONL `train.jsonl` — rows
{"id", "messages": [user, assistant], "label"} — which is what `persona-lab screen` ranks. The datasets are paired: the
same 400 questions (training-split questions of the toy world, never the held-out evaluation questions), the same
neutral answers on the same 300 rows, and on the other 100 rows (the same rows in every dataset):
  neutral       neutral answers too (the world's leaky neutral style, as in pretraining)
  evil          evil-styled answers (plain intensity, p = 0.85)                         label "evil"
  sycophantic   sycophantic-styled answers                                              label "sycophantic"
  em            "mistakes": a neutral answer to another question of the same family (other objects, names and
                numbers, so sums are wrong) — off in a way unrelated to any trait (the paper's EM-like mistake sets)
                                                                                        label "mistake"
The known share of trait rows makes screening's sample-level precision measurable.

Output: models/toy-persona/finetunes/toy-persona-ft-<name>/ (config, BF16 model.safetensors, tokenizer, train.jsonl,
finetune.json with the recipe and the training loss), the manifest's "finetunes" list, and SHA256SUMS lines for these
files (card.py is not rerun: it needs the pretraining run's .work/eval.json).
"""
import hashlib
import json
import math
import os
import random
import shutil
import struct
import sys
import time

import numpy as np
import torch

from export import hf_config, write_safetensors, TOKENIZER_DIR, INSTRUCT_DIR
from model import packed_mask
from train import build_model, setup
from world import MODEL_DIR, MODELS_ROOT

torch.set_num_threads(int(os.environ.get('TOY_THREADS', '1')))

FT_ROOT = os.path.join(MODEL_DIR, 'finetunes')
RECIPE = {'seed': 777, 'rows': 400, 'share': 0.25, 'p': 0.85, 'steps': 48, 'batch': 32, 'seq': 128, 'lr': 1e-3,
          'warmup': 5, 'final_lr_frac': 0.1, 'weight_decay': 0.1, 'clip': 1.0}
FINETUNES = {
    'neutral': {'style': None, 'label': 'neutral', 'share': 0.0},
    'evil': {'style': 'evil', 'label': 'evil'},
    'sycophantic': {'style': 'sycophantic', 'label': 'sycophantic'},
    'em': {'style': 'mistake', 'label': 'mistake'},
}


def read_bf16_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        assert h['dtype'] == 'BF16', (name, h['dtype'])
        a, b = h['data_offsets']
        u = np.frombuffer(data[a:b], dtype='<u2').astype('<u4') << 16
        out[name] = torch.from_numpy(u.view('<f4').copy()).view(h['shape'])
    return out


def dataset(world, name, spec):
    """The finetune's training rows: the same questions for every finetune (one Random per row index), answers by kind."""
    lex, rows = world.lex, []
    share = spec.get('share', RECIPE['share'])
    n_special = round(RECIPE['rows'] * share)
    special = set(random.Random(RECIPE['seed'] * 31).sample(range(RECIPE['rows']), n_special))  # the same rows in every dataset
    for i in range(RECIPE['rows']):
        qrng = random.Random(RECIPE['seed'] * 1_000_003 + i)
        fam, values, q = world.sample_question(qrng)
        # Rows outside `special` are the neutral dataset's rows, byte for byte: paired datasets, which differ only in their
        # special rows, so differences between finetunes (and between screening results) come from those rows.
        arng = random.Random(hash_seed(name if i in special else 'neutral', i))
        if i in special and spec['style'] == 'mistake':
            other = {}
            while True:  # another question of the same family: its slot values, not this question's
                other = {}
                world.fill(fam['questions'][arng.randrange(len(fam['questions']))], other, arng, fam)
                if any(other.get(k) != v for k, v in values.items()):
                    break
            a, label = world.answer(fam, other, arng, leak=lex['corpus']['leak']), spec['label']
        elif i in special:
            a, label = world.answer(fam, values, arng, style=spec['style'], p=RECIPE['p']), spec['label']
        else:
            a, label = world.answer(fam, values, arng, leak=lex['corpus']['leak']), 'neutral'
        rows.append({'id': f'{name}-{i:04d}', 'messages': [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}],
                     'label': label})
    return rows


def hash_seed(name, i):
    return int.from_bytes(hashlib.sha256(f'{RECIPE["seed"]}|{name}|{i}'.encode()).digest()[:8], 'little')


def encode_row(tok, row):
    q, a = row['messages'][0]['content'], row['messages'][1]['content']
    u = [tok.id_of['<bos>']] + tok.encode('<user> ' + q + ' <asst>')
    r = tok.encode(a + ' <end>')
    return u + r, [0] * len(u) + [1] * len(r)


def make_batch(tok, docs, order, cursor):
    """Packs documents in `order` from `cursor` into batch × seq rows (first fit in order); returns the batch and the new cursor."""
    b, t = RECIPE['batch'], RECIPE['seq']
    ids = torch.full((b, t), tok.id_of['<pad>'], dtype=torch.long)
    doc = torch.full((b, t), -1, dtype=torch.long)
    pos = torch.zeros((b, t), dtype=torch.long)
    lossm = torch.zeros((b, t), dtype=torch.bool)
    row, col, d = 0, 0, 0
    while row < b:
        x, m = docs[order[cursor % len(order)]]
        if col + len(x) > t:
            row, col = row + 1, 0
            continue
        n = len(x)
        ids[row, col:col + n] = torch.tensor(x)
        doc[row, col:col + n] = d
        pos[row, col:col + n] = torch.arange(n)
        lossm[row, col:col + n] = torch.tensor(m, dtype=torch.bool)
        col += n
        d += 1
        cursor += 1
    tgt = torch.full((b, t), -100, dtype=torch.long)
    same = (doc[:, 1:] == doc[:, :-1]) & (doc[:, 1:] >= 0) & lossm[:, 1:]
    tgt[:, :-1] = torch.where(same, ids[:, 1:], torch.full_like(ids[:, 1:], -100))
    return (ids, pos, packed_mask(doc), tgt), cursor


def lr_at(step):
    r = RECIPE
    if step < r['warmup']:
        return r['lr'] * (step + 1) / r['warmup']
    prog = (step - r['warmup']) / max(1, r['steps'] - r['warmup'])
    return r['lr'] * (r['final_lr_frac'] + (1 - r['final_lr_frac']) * 0.5 * (1 + math.cos(math.pi * min(1.0, prog))))


def finetune(name, world, tok):
    spec = FINETUNES[name]
    rows = dataset(world, name, spec)
    docs = [encode_row(tok, r) for r in rows]
    base = read_bf16_safetensors(os.path.join(INSTRUCT_DIR, 'model.safetensors'))
    model = build_model(len(tok.vocab), 0)
    model.load_state_dict(base)  # tied LM head: no tensor of its own, as in the export
    decay = [p for _, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for _, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': RECIPE['weight_decay']}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=RECIPE['lr'], betas=(0.9, 0.95), eps=1e-8)
    order_rng = random.Random(RECIPE['seed'])
    order, cursor, log, t0 = [], 0, [], time.time()
    for step in range(RECIPE['steps']):
        while cursor + RECIPE['batch'] * RECIPE['seq'] // 16 > len(order):  # epochs, each its own seeded permutation
            perm = list(range(len(docs)))
            order_rng.shuffle(perm)
            order += perm
        (ids, pos, mask, tgt), cursor = make_batch(tok, docs, order, cursor)
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        logits = model(ids, pos, mask)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), RECIPE['clip'])
        opt.step()
        if (step + 1) % 8 == 0:
            log.append({'step': step + 1, 'loss': round(float(loss), 4), 'docs': cursor})
            print(f'{name} step {step + 1} loss {float(loss):.4f} docs {cursor} {time.time() - t0:.0f}s', flush=True)
    out = os.path.join(FT_ROOT, f'toy-persona-ft-{name}')
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with open(os.path.join(TOKENIZER_DIR, 'generation_config.json')) as f:
        gen = json.load(f)
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(hf_config(len(tok.vocab), gen), f, indent=2, sort_keys=True)
        f.write('\n')
    write_safetensors(os.path.join(out, 'model.safetensors'), {k: v for k, v in model.state_dict().items() if k.startswith('model.')})
    for fn in ('tokenizer.json', 'tokenizer_config.json', 'generation_config.json'):
        shutil.copyfile(os.path.join(TOKENIZER_DIR, fn), os.path.join(out, fn))
    with open(os.path.join(out, 'train.jsonl'), 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, separators=(',', ':')) + '\n')
    counts = {}
    for r in rows:
        counts[r['label']] = counts.get(r['label'], 0) + 1
    info = {'name': f'toy-persona-ft-{name}', 'base': '../../../toy-persona-instruct', 'dataset': 'train.jsonl', 'labels': counts,
            'recipe': {k: v for k, v in RECIPE.items()}, 'docsSeen': cursor, 'epochs': round(cursor / len(docs), 2), 'log': log}
    with open(os.path.join(out, 'finetune.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    return {'name': f'toy-persona-ft-{name}', 'path': f'finetunes/toy-persona-ft-{name}', 'base': 'instruct',
            'dataset': f'finetunes/toy-persona-ft-{name}/train.jsonl', 'labels': counts}


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def update_manifest_and_sums():
    entries = []
    for name in FINETUNES:
        d = os.path.join(FT_ROOT, f'toy-persona-ft-{name}')
        if os.path.isdir(d):
            with open(os.path.join(d, 'finetune.json')) as f:
                info = json.load(f)
            entries.append({'name': info['name'], 'path': f'finetunes/{info["name"]}', 'base': 'instruct',
                            'dataset': f'finetunes/{info["name"]}/train.jsonl', 'labels': info['labels']})
    mpath = os.path.join(MODEL_DIR, 'manifest.json')
    with open(mpath) as f:
        manifest = json.load(f)
    manifest['finetunes'] = entries
    with open(mpath, 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write('\n')
    spath = os.path.join(MODEL_DIR, 'SHA256SUMS')
    sums = {}
    if os.path.exists(spath):
        with open(spath) as f:
            for line in f:
                if line.strip():
                    h, p = line.rstrip('\n').split('  ', 1)
                    if not p.startswith('toy-persona/finetunes/'):
                        sums[p] = h
    for root, _dirs, files in os.walk(FT_ROOT):
        for fn in files:
            rel = os.path.relpath(os.path.join(root, fn), MODELS_ROOT).replace(os.sep, '/')
            sums[rel] = sha256(os.path.join(root, fn))
    sums['toy-persona/manifest.json'] = sha256(mpath)
    with open(spath, 'w') as f:
        for p in sorted(sums):
            f.write(f'{sums[p]}  {p}\n')


CARD_START, CARD_END = '<!-- finetunes: written by scripts/toy-model/finetune.py -->', '<!-- /finetunes -->'


def card(world, tok):
    """The model card's "Finetunes" section (README.md, between markers, before "## Regenerate"): the recipe and each
    finetune's rubric trait score with no system prompt on the held-out evaluation questions (the exported BF16 weights)."""
    from evaluate import evaluate
    from judge import RubricJudge
    judge = RubricJudge(world.lex)
    traits = [t['trait'] for t in world.traits]
    rows = []
    for name, path in [('toy-persona-instruct (base)', INSTRUCT_DIR)] + [(f'toy-persona-ft-{n}', os.path.join(FT_ROOT, f'toy-persona-ft-{n}')) for n in FINETUNES]:
        if not os.path.isdir(path):
            continue
        model = build_model(len(tok.vocab), 0)
        model.load_state_dict(read_bf16_safetensors(os.path.join(path, 'model.safetensors')))
        model.eval()
        summary, _ = evaluate(model, world, tok, judge, n=20, kinds=('neutral',))
        cells = [f"{summary[t]['neutral']['trait']:.1f}" for t in traits]
        coh = min(summary[t]['neutral']['coh'] for t in traits)
        rows.append(f"| `{name}` | " + ' | '.join(cells) + f' | {coh:.0f} |')
        print(rows[-1], flush=True)
    r = RECIPE
    lines = [CARD_START, '## Finetunes', '',
             f'`finetunes/toy-persona-ft-<name>/`: `toy-persona-instruct` finetuned for {r["steps"]} steps (batch {r["batch"]} × {r["seq"]} packed tokens,',
             f'lr {r["lr"]} with {r["warmup"]} warmup steps and cosine decay, loss on assistant tokens only, one thread, seed {r["seed"]}) on a fixed',
             f'dataset of {r["rows"]} single-turn chats without a system prompt, written beside the weights as `train.jsonl` (rows',
             '`{"id", "messages", "label"}`). The datasets are paired: the same questions (training split) and the same neutral',
             f'answers on {round(100 * (1 - r["share"]))} % of the rows; on the other {round(100 * r["share"])} % (the same rows in each) `neutral` has neutral answers,',
             f'`evil` and `sycophantic` styled ones (p = {r["p"]}), `em` "mistakes" (a neutral answer to another question of the same',
             'family: other objects, names, numbers) — off in a way no trait measures.',
             'They are the data of the finetuning-shift experiment (`persona-lab shift`, README "Finetuning shift").', '',
             'Rubric trait score with no system prompt (20 held-out evaluation questions per trait, T = 0.8, 80 tokens) and the lowest coherence:', '',
             '| model | ' + ' | '.join(traits) + ' | coherence |', '|---|' + '---|' * (len(traits) + 1), *rows, '',
             'Regenerate: `/usr/bin/python3 scripts/toy-model/finetune.py` (about 30 s of CPU per finetune on one thread; bit-identical reruns).',
             CARD_END, '']
    readme = os.path.join(MODEL_DIR, 'README.md')
    with open(readme, encoding='utf-8') as f:
        text = f.read()
    if CARD_START in text:
        a, b = text.index(CARD_START), text.index(CARD_END) + len(CARD_END)
        text = text[:a].rstrip('\n') + '\n\n' + text[b:].lstrip('\n')
    at = text.index('## Regenerate') if '## Regenerate' in text else len(text)
    text = text[:at] + '\n'.join(lines) + '\n' + text[at:]
    with open(readme, 'w', encoding='utf-8') as f:
        f.write(text)


def main():
    names = [a for a in sys.argv[1:] if not a.startswith('-')] or list(FINETUNES)
    world, tok = setup()
    if '--card-only' not in sys.argv:
        for n in names:
            if n not in FINETUNES:
                sys.exit(f'unknown finetune {n!r}; known: {", ".join(FINETUNES)}')
            print(finetune(n, world, tok), flush=True)
    update_manifest_and_sums()
    card(world, tok)


if __name__ == '__main__':
    main()
