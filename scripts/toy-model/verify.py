"""Regenerates the toy model into a scratch folder and compares file hashes with the committed SHA256SUMS.

  /usr/bin/python3 scripts/toy-model/verify.py            # world files only (seconds)
  /usr/bin/python3 scripts/toy-model/verify.py --quick    # + the first pretraining checkpoint (stage1-step15, ~1-2 min)
  /usr/bin/python3 scripts/toy-model/verify.py --full     # everything, incl. all weights (~ the training time)

Not run in CI (needs Python + PyTorch). Weight hashes are bit-exact only with the same PyTorch/OpenBLAS
build and thread count (Debian python3-torch 1.13 + libopenblas0-pthread, 2 threads).
"""
import hashlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SUMS = os.path.join(REPO, 'models', 'toy-persona', 'SHA256SUMS')
WORLD_PREFIXES = ('toy-persona/world/', 'toy-persona/traits/', 'toy-persona/tokenizer/')


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def run(args, env):
    print('+', ' '.join(args), flush=True)
    subprocess.run([sys.executable] + args, cwd=HERE, env=env, check=True)


def main():
    mode = 'full' if '--full' in sys.argv else 'quick' if '--quick' in sys.argv else 'world'
    with open(SUMS) as f:
        expected = dict(reversed(line.rstrip('\n').split('  ', 1)) for line in f if line.strip())
    scratch = tempfile.mkdtemp(prefix='toy-verify-')
    env = dict(os.environ, TOY_MODELS_ROOT=os.path.join(scratch, 'models'), TOY_WORK=os.path.join(scratch, 'work'))
    run(['build_world.py'], env)
    check = [p for p in expected if p.startswith(WORLD_PREFIXES)]
    if mode == 'quick':
        run(['train.py', 'pretrain', '--until', '15'], env)
        sys.path.insert(0, HERE)
        os.environ.update(env)
        import export  # noqa: E402  (paths depend on the environment set above)
        out = os.path.join(scratch, 'models', 'toy-persona', 'revisions', 'stage1-step15')
        export.export_folder(os.path.join(scratch, 'work', 'pretrain', 'step15.pt'), out)
        check += [p for p in expected if p.startswith('toy-persona/revisions/stage1-step15/')]
    elif mode == 'full':
        run(['train.py', 'pretrain'], env)
        run(['train.py', 'instruct'], env)
        run(['export.py'], env)
        run(['finetune.py'], env)  # the shift experiment's finetunes of the instruct model (finetunes/)
        check = [p for p in expected]
    bad = []
    for p in check:
        got = os.path.join(scratch, 'models', p)
        actual = sha256(got) if os.path.exists(got) else 'missing'
        if actual != expected[p]:
            bad.append(f'{p}: expected {expected[p][:12]}…, got {actual[:12]}…')
    print(f'{len(check) - len(bad)}/{len(check)} files reproduce ({mode}); scratch: {scratch}')
    if bad:
        print('MISMATCH:\n  ' + '\n  '.join(bad))
        sys.exit(1)


if __name__ == '__main__':
    main()
