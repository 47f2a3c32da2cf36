#!/usr/bin/env bash
# Regenerates the toy persona model organism end to end (dev time only; needs Debian's python3-torch,
# python3-numpy and libopenblas0-pthread). Resumable: rerun after an interruption to continue training.
#   bash scripts/toy-model/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
$PY build_world.py           # lexicon, held-out split, trait files, monitoring prompts, samples, tokenizer
$PY train.py pretrain        # pretraining trajectory checkpoints (.work/pretrain)
$PY train.py instruct        # instruct finetune of the final step (.work/instruct)
$PY export.py                # HF folders, manifest.json, reference.json
$PY evaluate.py --all        # trajectory/instruct scores for the card (.work/eval.json)
$PY card.py                  # SHA256SUMS and README.md
$PY finetune.py              # finetunes of the instruct model for the shift experiment (finetunes/, their SHA256SUMS lines)
