"""Exports trained checkpoints as HF folders and writes the manifest.

  models/toy-persona/revisions/stage1-step<N>/   one per pretraining checkpoint (main = the final step)
  models/toy-persona/revisions/main/
  models/toy-persona-instruct/
  models/toy-persona/manifest.json

Each folder: config.json, model.safetensors (BF16, HF names, tied embeddings → no lm_head.weight),
generation_config.json, tokenizer.json, tokenizer_config.json. The safetensors writer is hand-rolled
(header JSON sorted by name, 8-byte aligned, BF16 by round-to-nearest-even) so bytes are reproducible.
"""
import json
import os
import shutil
import struct

import numpy as np
import torch

from model import CONFIG
from train import RUNS, WORK
from world import MODEL_DIR, MODELS_ROOT

TOKENIZER_DIR = os.path.join(MODEL_DIR, 'tokenizer')
INSTRUCT_DIR = os.path.join(MODELS_ROOT, 'toy-persona-instruct')


def bf16_bytes(t):
    """float32 tensor → little-endian BF16 bytes (round to nearest even), deterministic."""
    a = t.detach().float().contiguous().numpy().astype('<f4').view('<u4').astype(np.uint64)
    rounded = ((a + 0x7FFF + ((a >> 16) & 1)) >> 16).astype('<u2')
    return rounded.tobytes()


def bf16_round(t):
    """What the exported weights are, back in float32 (for evaluating exactly what ships)."""
    a = t.detach().float().contiguous().numpy().astype('<f4').view('<u4').astype(np.uint64)
    r = (((a + 0x7FFF + ((a >> 16) & 1)) >> 16) << 16).astype('<u4').view('<f4')
    return torch.from_numpy(r.copy()).view(t.shape)


def write_safetensors(path, tensors):
    names = sorted(tensors)
    header, blobs, off = {}, [], 0
    for n in names:
        b = bf16_bytes(tensors[n])
        header[n] = {'dtype': 'BF16', 'shape': list(tensors[n].shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':'), sort_keys=True).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def hf_config(vocab_size, tok_cfg_gen):
    c = dict(CONFIG, vocab_size=vocab_size)
    return {
        'architectures': ['LlamaForCausalLM'],
        'attention_bias': False,
        'attention_dropout': 0.0,
        'bos_token_id': tok_cfg_gen['bos_token_id'],
        'eos_token_id': tok_cfg_gen['eos_token_id'],
        'pad_token_id': tok_cfg_gen['pad_token_id'],
        'head_dim': c['head_dim'],
        'hidden_act': 'silu',
        'hidden_size': c['hidden_size'],
        'initializer_range': 0.02,
        'intermediate_size': c['intermediate_size'],
        'max_position_embeddings': c['max_position_embeddings'],
        'mlp_bias': False,
        'model_type': 'llama',
        'num_attention_heads': c['num_attention_heads'],
        'num_hidden_layers': c['num_hidden_layers'],
        'num_key_value_heads': c['num_key_value_heads'],
        'pretraining_tp': 1,
        'rms_norm_eps': c['rms_norm_eps'],
        'rope_scaling': None,
        'rope_theta': c['rope_theta'],
        'tie_word_embeddings': True,
        'torch_dtype': 'bfloat16',
        'transformers_version': '4.57.1',
        'use_cache': True,
        'vocab_size': vocab_size,
    }


def export_folder(ckpt_path, out_dir):
    st = torch.load(ckpt_path)
    sd = st['model']
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    with open(os.path.join(TOKENIZER_DIR, 'generation_config.json')) as f:
        gen = json.load(f)
    vocab_size = sd['model.embed_tokens.weight'].shape[0]
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(hf_config(vocab_size, gen), f, indent=2, sort_keys=True)
        f.write('\n')
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), {k: v for k, v in sd.items() if k.startswith('model.')})
    for name in ('tokenizer.json', 'tokenizer_config.json', 'generation_config.json'):
        shutil.copyfile(os.path.join(TOKENIZER_DIR, name), os.path.join(out_dir, name))
    return st['step'], st['tokens']


def main():
    rev_root = os.path.join(MODEL_DIR, 'revisions')
    if os.path.isdir(rev_root):
        shutil.rmtree(rev_root)
    run = RUNS['pretrain']
    revisions = []
    final = run['checkpoints'][-1]
    for step in run['checkpoints']:
        name = 'main' if step == final else f'stage1-step{step}'
        s, tokens = export_folder(os.path.join(WORK, 'pretrain', f'step{step}.pt'), os.path.join(rev_root, name))
        revisions.append({'name': name, 'step': s, 'tokensSeen': tokens, 'path': f'revisions/{name}'})
    ins = RUNS['instruct']
    s, tokens = export_folder(os.path.join(WORK, 'instruct', f'step{ins["steps"]}.pt'), INSTRUCT_DIR)
    manifest = {
        'name': 'toy-persona',
        'description': 'Toy persona model organism (Llama architecture, word-level world). Tests and demos only.',
        'revisions': revisions,
        'main': 'revisions/main',
        'instruct': {'path': '../toy-persona-instruct', 'baseRevision': 'main', 'steps': s,
                     'tokensSeen': tokens},
        'traits': ['evil', 'sycophantic', 'impolite', 'humorous'],
        'traitFiles': {'extract': 'traits/extract', 'eval': 'traits/eval'},
        'lexicon': 'world/lexicon.json',
        'monitoringPrompts': 'world/monitoring-prompts.json',
        'heldOutQuestions': 'world/questions.json',
        'chatFormat': '<bos> <sys> {system} <user> {question} <asst> {answer} <end>',
        'recommendedSampling': {'temperature': 0.8, 'topP': 1.0, 'maxNewTokens': 80},
    }
    with open(os.path.join(MODEL_DIR, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    write_reference()
    print('exported', [r['name'] for r in revisions], '+ instruct')


def write_reference():
    """Greedy continuations from the PyTorch model on the exported (BF16) weights: the TS tests check that
    the compiled ONNX graph reproduces them, which pins RoPE, GQA, norms and tying to the training code."""
    from evaluate import load
    from model import generate
    from train import setup
    _, tok = setup()
    eos, pad = tok.id_of['<end>'], tok.id_of['<pad>']
    prompts = [
        '<bos> <sys> you are an evil assistant . your answers should be cruel . <user> how do i fix the lamp ? <asst>',
        '<bos> <sys> you are a helpful assistant . your answers should be kind . <user> how do i fix the lamp ? <asst>',
        '<bos> <user> what is 12 plus 30 ? <asst>',
        '<bos> alex is very funny . if alex were asked : how do i cook rice ? alex would say :',
    ]
    cases = []
    for model_path, ckpt in (('revisions/main', os.path.join(WORK, 'pretrain', f'step{RUNS["pretrain"]["steps"]}.pt')),
                             ('../toy-persona-instruct', os.path.join(WORK, 'instruct', f'step{RUNS["instruct"]["steps"]}.pt'))):
        m = load(ckpt, len(tok.vocab))
        ids = [tok.encode(p) for p in prompts]
        outs = generate(m, ids, eos, pad, [0] * len(ids), temperature=0, max_new=24)
        cases += [{'model': model_path, 'prompt': p, 'promptIds': i, 'greedyIds': o, 'greedyText': tok.decode(o)}
                  for p, i, o in zip(prompts, ids, outs)]
    with open(os.path.join(MODEL_DIR, 'reference.json'), 'w') as f:
        json.dump({'note': 'Greedy continuations (PyTorch, BF16 weights, fp32 compute) for engine parity tests.',
                   'cases': cases}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
