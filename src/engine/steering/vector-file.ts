/**
 * Reads steering vectors from stored vector files (safetensors, one tensor per kind, e.g.
 * `response_avg_diff` of shape [L+1, H]; layer convention in src/engine/model/types.ts).
 * Files are cached by (path, size, mtime) so a sweep over coefficients reads each file once.
 */
import { statSync } from 'node:fs';
import { readSafetensorsHeader, readTensor, toFloat32 } from '../weights/safetensors.js';
import { SteerSpecError, type VectorFileReader } from './steer.js';

export function createVectorFileReader(maxEntries = 32): VectorFileReader {
  const cache = new Map<string, { name: string; shape: number[]; data: Float32Array }>();
  return (file, tensor) => {
    let st;
    try {
      st = statSync(file);
    } catch {
      throw new SteerSpecError('vector-file', `vector file ${file} does not exist; pass the path of a .safetensors vector file`);
    }
    const key = `${file}\0${tensor ?? ''}\0${st.size}\0${st.mtimeMs}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const header = readSafetensorsHeader(file);
    const names = [...header.tensors.keys()];
    let name = tensor;
    if (name === undefined) {
      if (names.length !== 1) throw new SteerSpecError('vector-file', `vector file ${file} holds ${names.length} tensors (${names.join(', ')}); say which one with 'tensor'`);
      name = names[0];
    }
    if (!header.tensors.has(name)) throw new SteerSpecError('vector-file', `vector file ${file} has no tensor '${name}' (it has: ${names.join(', ')})`);
    const t = readTensor(header, name);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') {
      throw new SteerSpecError('vector-file', `vector file ${file} tensor '${name}' has dtype ${t.dtype}; expected a float tensor`);
    }
    const entry = { name, shape: t.shape, data: toFloat32(t) };
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, entry);
    return entry;
  };
}
