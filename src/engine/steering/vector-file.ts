/**
 * Reads steering vectors from stored vector files — every format the CLI reads: our safetensors files (one
 * tensor per kind, e.g. `response_avg_diff` of shape [L+1, H]) and upstream's bare-tensor `torch.save` files
 * (`<trait>_<kind>_diff.pt`, one kind each, named by the file; ../vectors/torch.ts). Layer convention in
 * src/engine/model/types.ts. Files are cached by (path, size, mtime) so a sweep over coefficients reads each
 * file once.
 */
import { statSync } from 'node:fs';
import { TorchFileError, readTorchTensor, torchVectorKind } from '../vectors/torch.js';
import { readSafetensorsHeader, readTensor, toFloat32 } from '../weights/safetensors.js';
import { SteerSpecError, type VectorFileReader } from './steer.js';

type Entry = { name: string; shape: number[]; data: Float32Array };

/** NaN or ±Inf anywhere in the tensor is refused on load, naming the row (the layer of an [L+1, H] vector). */
function assertFinite(e: Entry, file: string): void {
  const h = e.shape.length === 2 ? e.shape[1] : e.data.length;
  for (let i = 0; i < e.data.length; i++) {
    if (!Number.isFinite(e.data[i])) {
      const row = Math.floor(i / h);
      throw new SteerSpecError('vector-file', `vector file ${file} tensor '${e.name}' row ${row}, column ${i % h} is ${e.data[i]}: a vector file with NaN or infinite values is refused; re-extract the vector`);
    }
  }
}

/** A .pt vector holds one tensor, of the kind its name states; asking for another kind is an error, not a silent swap. */
function readTorchVector(file: string, tensor: string | undefined): Entry {
  const name = `${torchVectorKind(file)}_diff`;
  if (tensor !== undefined && tensor !== name) {
    throw new SteerSpecError('vector-file', `vector file ${file} is an upstream .pt vector holding only ${name} (the kind its name states); ask for that kind or pass a file of kind ${tensor}`);
  }
  try {
    const t = readTorchTensor(file);
    return { name, shape: t.shape, data: t.data };
  } catch (e) {
    if (TorchFileError.is(e)) throw new SteerSpecError('vector-file', e.message);
    throw e;
  }
}

export function createVectorFileReader(maxEntries = 32): VectorFileReader {
  const cache = new Map<string, Entry>();
  return (file, tensor) => {
    let st;
    try {
      st = statSync(file);
    } catch {
      throw new SteerSpecError('vector-file', `vector file ${file} does not exist; pass the path of a .safetensors (or upstream .pt) vector file`);
    }
    const key = `${file}\0${tensor ?? ''}\0${st.size}\0${st.mtimeMs}`;
    const hit = cache.get(key);
    if (hit) return hit;
    if (file.endsWith('.pt')) return remember(key, readTorchVector(file, tensor));
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
    return remember(key, { name, shape: t.shape, data: toFloat32(t) });
  };
  function remember(key: string, entry: Entry): Entry {
    assertFinite(entry, key.slice(0, key.indexOf('\0')));
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, entry);
    return entry;
  }
}
