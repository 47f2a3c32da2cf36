/** Reading trait files from disk: one file, or every *.json under a folder. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../errors.js';
import { parseTrait, traitIssues, type TraitData, type TraitIssue } from './schema.js';

export interface LoadedTrait {
  file: string;
  data: TraitData;
  /** sha256 of the file bytes: recorded in vector metadata and run manifests. */
  sha256: string;
}

export function loadTraitFile(file: string, options: { requireInstruction?: boolean } = {}): LoadedTrait {
  let bytes: Buffer;
  try { bytes = readFileSync(file); } catch (e) {
    throw new PipelineError('trait-invalid', `${file}: cannot read trait file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try { json = JSON.parse(bytes.toString('utf8')); } catch (e) {
    throw new PipelineError('trait-invalid', `${file}: not valid JSON (${(e as Error).message})`, [{ path: '$', message: (e as Error).message }]);
  }
  return { file, data: parseTrait(json, file, options), sha256: createHash('sha256').update(bytes).digest('hex') };
}

export interface ValidationReport { file: string; ok: boolean; issues: TraitIssue[] }

/** Validates one file or every *.json below a folder (sorted), never throwing for a bad file. */
export function validateTraitPath(p: string): ValidationReport[] {
  const files = statSync(p).isDirectory() ? listJson(p) : [p];
  return files.map((file) => {
    let json: unknown;
    try { json = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
      return { file, ok: false, issues: [{ path: '$', message: `not valid JSON (${(e as Error).message})` }] };
    }
    const issues = traitIssues(json);
    return { file, ok: issues.length === 0, issues };
  });
}

function listJson(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) out.push(...listJson(p));
    else if (n.endsWith('.json')) out.push(p);
  }
  return out;
}
