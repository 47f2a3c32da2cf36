/** Shared paths and fixture access for the worker tests. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadSafetensors, toFloat32 } from '../../../src/engine/weights/safetensors.js';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const parityDir = path.join(sharedDir, 'fixtures', 'parity');
export const workerSource = path.join(repoRoot, 'src', 'engine', 'worker', 'main.ts');
export const hasParity = existsSync(path.join(parityDir, 'llama_gqa', 'expected.safetensors'));
export const SKIP_PARITY = hasParity ? false : `../shared/fixtures/parity is absent (looked in ${parityDir})`;

export interface Fixture {
  dir: string;
  f32(name: string): Float32Array;
  ids(name: string): number[];
  shape(name: string): number[];
}

export function fixture(name: string): Fixture {
  const dir = path.join(parityDir, name);
  const { tensors } = loadSafetensors(path.join(dir, 'expected.safetensors'));
  const get = (n: string) => {
    const t = tensors.get(n);
    if (!t) throw new Error(`fixture ${name} has no tensor ${n}`);
    return t;
  };
  return {
    dir,
    f32: (n) => toFloat32(get(n)),
    ids: (n) => [...(get(n).data as BigInt64Array)].map(Number),
    shape: (n) => get(n).shape,
  };
}

export const logSink = (lines: string[]) => (level: string, msg: string) => { lines.push(`${level} ${msg}`); };
