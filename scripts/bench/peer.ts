/**
 * The PyTorch eager peer (scripts/bench/peer_torch.py) from Node: finds a Python with torch (installing
 * Debian's python3-torch with OpenBLAS when none is found), speaks its line-JSON protocol, checks it against
 * the parity fixtures before anything is timed, and searches its thread settings.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

const HERE = path.dirname(new URL(import.meta.url).pathname);
export const PEER_SCRIPT = path.join(HERE, 'peer_torch.py');

function hasTorch(python: string): boolean {
  return spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** A Python that imports torch: Debian's /usr/bin/python3 first (where python3-torch lives), then PATH's python3. */
export function findTorchPython(): string | undefined {
  for (const p of ['/usr/bin/python3', 'python3']) if (hasTorch(p)) return p;
  return undefined;
}

/** Debian packages the peer needs: torch, and OpenBLAS (without it torch falls back to reference BLAS, ~20× slower GEMMs). */
const APT_PACKAGES = ['python3-torch', 'libopenblas0-pthread'];

function openblasInstalled(): boolean {
  try {
    return readdirSync('/usr/lib/x86_64-linux-gnu').some((f) => f === 'openblas-pthread') || existsSync('/usr/lib/aarch64-linux-gnu/openblas-pthread');
  } catch {
    return false;
  }
}

/**
 * Returns a torch Python, installing python3-torch (+ OpenBLAS) with apt when missing — as root, or through
 * `sudo -n`. Throws with the reason when that is impossible.
 */
export function ensureTorchPython(log: (m: string) => void): string {
  const found = findTorchPython();
  if (found && (openblasInstalled() || process.platform !== 'linux')) return found;
  const isRoot = process.getuid?.() === 0;
  const sudo = isRoot ? [] : ['sudo', '-n'];
  if (!isRoot && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status !== 0) {
    if (found) return found;
    throw new Error('python3-torch is not installed and cannot be installed here (not root, no passwordless sudo): run `sudo apt-get install python3-torch libopenblas0-pthread`, or pass --no-peer');
  }
  if (!existsSync('/usr/bin/apt-get')) {
    if (found) return found;
    throw new Error('no torch and no apt-get: install PyTorch for python3, or pass --no-peer');
  }
  const run = (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    const r = spawnSync(cmd, rest, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    return r.status === 0 ? '' : (r.stderr?.toString() || `exit ${r.status}`).trim().split('\n').slice(-3).join(' ');
  };
  const policy = spawnSync('apt-cache', ['policy', 'python3-torch'], { encoding: 'utf8' }).stdout ?? '';
  if (!/Candidate: (?!\(none\))/.test(policy)) {
    log('apt-get update (python3-torch has no install candidate yet)…');
    run(['apt-get', 'update']);
  }
  log(`installing ${APT_PACKAGES.join(' ')} with apt-get (once)…`);
  const err = run(['apt-get', 'install', '-y', '--no-install-recommends', ...APT_PACKAGES]);
  const py = findTorchPython();
  if (!py) throw new Error(`could not install python3-torch: ${err || 'torch still not importable'}; pass --no-peer to run without the peer`);
  return py;
}

export interface PeerThreads { intra: number; blas: number }

/** One peer process (one thread setting; OpenBLAS reads its thread count at start). */
export class TorchPeer {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcessWithoutNullStreams, readonly threads: PeerThreads) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static start(python: string, threads: PeerThreads): TorchPeer {
    const env = { ...process.env, OMP_NUM_THREADS: String(threads.blas), OPENBLAS_NUM_THREADS: String(threads.blas), MKL_NUM_THREADS: String(threads.blas) };
    const child = spawn(python, [PEER_SCRIPT, '--intra', String(threads.intra)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const peer = new TorchPeer(child, threads);
    peer.stderrTail = () => stderr;
    return peer;
  }

  stderrTail: () => string = () => '';
  get pid(): number { return this.child.pid ?? -1; }

  async request<T = Record<string, unknown>>(req: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(JSON.stringify(req) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`the torch peer exited: ${this.stderrTail().trim().split('\n').slice(-3).join(' ')}`);
    const res = JSON.parse(value as string) as { ok: boolean; error?: string } & T;
    if (!res.ok) throw new Error(`torch peer: ${res.error}`);
    return res;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end(JSON.stringify({ cmd: 'exit' }) + '\n');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

export interface ParityResult { fixture: string; max_abs_err: number; ok: boolean; greedy_tokens_equal: boolean; errors: Record<string, number> }

/** The Llama-family parity fixtures the peer implements (gpt2 is not Llama-family). */
export function parityFixtures(root: string): string[] {
  const base = path.resolve(root, '..', 'shared', 'fixtures', 'parity');
  return ['llama_gqa', 'qwen2', 'olmo2'].map((f) => path.join(base, f)).filter((d) => existsSync(path.join(d, 'expected.safetensors')));
}

/** Runs the peer against every fixture; the bench refuses to time a peer that fails any. */
export async function checkPeerParity(peer: TorchPeer, root: string): Promise<ParityResult[]> {
  const fixtures = parityFixtures(root);
  if (!fixtures.length) throw new Error(`no parity fixtures found under ${path.resolve(root, '..', 'shared', 'fixtures', 'parity')}`);
  const out: ParityResult[] = [];
  for (const d of fixtures) out.push(await peer.request<ParityResult>({ cmd: 'parity', dir: d }));
  return out;
}
