/**
 * Locating a checkpoint on disk: a plain HF folder (config.json + model.safetensors or a sharded
 * index), or the HF hub cache layout
 *
 *   models--org--name/
 *     refs/<branch or tag>          → text file holding a commit hash
 *     snapshots/<commit>/<file>     → symlinks into ../../blobs/<sha>
 *     blobs/<sha>
 *
 * and building the tensor table (name → file + byte range) from the safetensors headers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ReasonError } from '../errors.js';
import { readSafetensorsHeader, type TensorInfo } from '../weights/safetensors.js';
import type { ModelRef } from './types.js';

export type CheckpointErrorReason = 'not-found' | 'no-weights' | 'bad-index' | 'bad-revision' | 'bad-config';

export class CheckpointError extends ReasonError<CheckpointErrorReason> {
  override readonly name = 'CheckpointError';
}

export interface WeightFile {
  /** Path as found in the model folder (may be a symlink in the HF cache). */
  path: string;
  /** After resolving symlinks: the file whose bytes ORT will read. */
  realPath: string;
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

export interface WeightEntry extends TensorInfo {
  file: WeightFile;
}

export interface Checkpoint {
  /** Folder holding config.json, tokenizer files, … (the snapshot folder for HF cache refs). */
  modelDir: string;
  /** For HF cache refs: the commit the revision resolved to. */
  commit?: string;
  rawConfig: Record<string, unknown>;
  files: WeightFile[];
  tensors: Map<string, WeightEntry>;
  weightBytes: number;
}

/** Resolve an HF cache repo + revision (branch, tag, full or abbreviated commit) to a snapshot folder. */
export function resolveHfCacheRevision(repoDir: string, revision: string): { snapshotDir: string; commit: string } {
  const snapshots = path.join(repoDir, 'snapshots');
  if (!fs.existsSync(snapshots)) {
    throw new CheckpointError('not-found', `${repoDir} is not a Hugging Face cache repo folder (no snapshots/ inside); expected models--org--name/{refs,snapshots,blobs}`);
  }
  const available = fs.readdirSync(snapshots);
  const refFile = path.join(repoDir, 'refs', revision);
  let commit: string | undefined;
  if (!revision.includes('..') && fs.existsSync(refFile) && fs.statSync(refFile).isFile()) {
    commit = fs.readFileSync(refFile, 'utf8').trim();
  } else if (available.includes(revision)) {
    commit = revision;
  } else if (/^[0-9a-f]{4,39}$/.test(revision)) {
    const matches = available.filter((c) => c.startsWith(revision));
    if (matches.length === 1) commit = matches[0];
    else if (matches.length > 1) throw new CheckpointError('bad-revision', `revision "${revision}" is ambiguous in ${repoDir}: ${matches.join(', ')}`);
  }
  if (!commit) {
    const refs = listRefs(path.join(repoDir, 'refs'));
    throw new CheckpointError('bad-revision',
      `revision "${revision}" does not exist in ${repoDir}. Known refs: ${refs.length ? refs.join(', ') : '(none)'}; snapshots: ${available.length ? available.join(', ') : '(none)'}. Download it first (e.g. huggingface-cli download <repo> --revision ${revision}).`);
  }
  const snapshotDir = path.join(snapshots, commit);
  if (!fs.existsSync(snapshotDir)) {
    throw new CheckpointError('bad-revision', `revision "${revision}" points to commit ${commit}, but ${snapshotDir} is missing (incomplete download?)`);
  }
  return { snapshotDir, commit };
}

function listRefs(dir: string, prefix = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...listRefs(path.join(dir, e.name), `${prefix}${e.name}/`));
    else out.push(prefix + e.name);
  }
  return out.sort();
}

function statWeight(p: string): WeightFile {
  let realPath: string;
  try {
    realPath = fs.realpathSync(p);
  } catch {
    throw new CheckpointError('no-weights', `weight file ${p} is missing (or a dangling symlink into the HF cache blobs/)`);
  }
  const st = fs.statSync(realPath);
  return { path: p, realPath, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev };
}

/** Find config + weights for a ModelRef and read every safetensors header (no tensor data). */
export function openCheckpoint(ref: ModelRef): Checkpoint {
  let modelDir: string;
  let commit: string | undefined;
  if (ref.kind === 'hf-cache') {
    const r = resolveHfCacheRevision(ref.repoDir, ref.revision || 'main');
    modelDir = r.snapshotDir;
    commit = r.commit;
  } else {
    modelDir = ref.path;
  }
  if (!fs.existsSync(modelDir) || !fs.statSync(modelDir).isDirectory()) {
    throw new CheckpointError('not-found', `model folder ${modelDir} does not exist`);
  }
  const configPath = path.join(modelDir, 'config.json');
  if (!fs.existsSync(configPath)) throw new CheckpointError('bad-config', `${modelDir} has no config.json; is this a Hugging Face checkpoint folder?`);
  let rawConfig: Record<string, unknown>;
  try {
    rawConfig = JSON.parse(fs.readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError('bad-config', `${configPath} is not valid JSON: ${(e as Error).message}`);
  }

  const indexPath = path.join(modelDir, 'model.safetensors.index.json');
  const singlePath = path.join(modelDir, 'model.safetensors');
  const tensors = new Map<string, WeightEntry>();
  const files: WeightFile[] = [];
  if (fs.existsSync(indexPath)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new CheckpointError('bad-index', `${indexPath} is not valid JSON: ${(e as Error).message}`);
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') throw new CheckpointError('bad-index', `${indexPath} has no weight_map`);
    const shardNames = [...new Set(Object.values(index.weight_map))].sort();
    for (const shard of shardNames) {
      if (shard.includes('/') || shard.includes('\\')) throw new CheckpointError('bad-index', `${indexPath} names shard "${shard}" outside the folder`);
      const wf = statWeight(path.join(modelDir, shard));
      files.push(wf);
      const header = readSafetensorsHeader(wf.path);
      for (const [name, info] of header.tensors) {
        if (index.weight_map[name] !== shard) continue; // the index is authoritative
        tensors.set(name, { ...info, file: wf });
      }
    }
    for (const [name, shard] of Object.entries(index.weight_map)) {
      if (!tensors.has(name)) throw new CheckpointError('bad-index', `${indexPath} maps "${name}" to ${shard}, but that shard does not contain it`);
    }
  } else if (fs.existsSync(singlePath) || isDanglingLink(singlePath)) {
    const wf = statWeight(singlePath);
    files.push(wf);
    const header = readSafetensorsHeader(wf.path);
    for (const [name, info] of header.tensors) tensors.set(name, { ...info, file: wf });
  } else {
    const present = fs.readdirSync(modelDir).filter((n) => /\.(bin|pt|pth|gguf|safetensors)$/.test(n));
    throw new CheckpointError('no-weights',
      `${modelDir} has no model.safetensors or model.safetensors.index.json${present.length ? ` (found: ${present.join(', ')}; convert .bin/.pt checkpoints to safetensors first)` : ''}`);
  }
  const weightBytes = [...tensors.values()].reduce((a, t) => a + t.byteLength, 0);
  return { modelDir, commit, rawConfig, files, tensors, weightBytes };
}

function isDanglingLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
