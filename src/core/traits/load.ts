/** Reading trait files from disk: one file, or every *.json under a folder. */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../errors.js';
import { checkTextLengths, type TextLimit } from '../validate/limits.js';
import { MAX_FILE_BYTES, parseJsonText, readTextInput } from '../validate/text.js';
import { instructionText, parseTrait, traitIssues, type TraitData, type TraitIssue } from './schema.js';

export interface LoadedTrait {
  file: string;
  data: TraitData;
  /** sha256 of the file bytes: recorded in vector metadata and run manifests. */
  sha256: string;
}

/**
 * Reads and validates a trait file: size (stat first), strict UTF-8 (a leading byte-order mark is stripped), JSON, the
 * schema, and — given a limit — the length of every question and instruction (src/core/validate).
 */
export function loadTraitFile(file: string, options: { requireInstruction?: boolean; limit?: TextLimit } = {}): LoadedTrait {
  const input = readTextInput(file, 'trait file', 'trait-invalid', MAX_FILE_BYTES.trait);
  return parsedTrait(file, input.text, input.bytes, options);
}

/**
 * A trait that is still text (generated, not yet written), validated as loadTraitFile validates the file it will be
 * written to: `file` is that path, and the hash is of the UTF-8 bytes that will be written, so the loaded trait is the
 * same whether it was read back or not. Lets a job check generated traits before anything reaches the disk.
 */
export function loadTraitText(file: string, text: string, options: { requireInstruction?: boolean; limit?: TextLimit } = {}): LoadedTrait {
  return parsedTrait(file, text, Buffer.from(text, 'utf8'), options);
}

function parsedTrait(file: string, text: string, bytes: Uint8Array, options: { requireInstruction?: boolean; limit?: TextLimit }): LoadedTrait {
  const data = parseTrait(parseJsonText(text, file, 'trait file', 'trait-invalid'), file, options);
  checkTextLengths(traitTexts(data), options.limit, file, 'trait-invalid');
  return { file, data, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Every text of a trait that becomes part of a prompt, with its JSON path. */
function* traitTexts(d: TraitData): Generator<{ where: string; text: string }> {
  for (const [i, q] of d.questions.entries()) yield { where: `$.questions[${i}]`, text: q };
  for (const [i, pair] of (d.instruction ?? []).entries()) {
    for (const side of ['pos', 'neg'] as const) yield { where: `$.instruction[${i}].${side}`, text: instructionText(pair[side]) };
  }
}

export interface ValidationReport { file: string; ok: boolean; issues: TraitIssue[] }

/** Validates one file or every *.json below a folder (sorted), never throwing for a bad file. */
export function validateTraitPath(p: string): ValidationReport[] {
  const files = statSync(p).isDirectory() ? listJson(p) : [p];
  return files.map((file) => {
    let json: unknown;
    try { json = parseJsonText(readTextInput(file, 'trait file', 'trait-invalid', MAX_FILE_BYTES.trait).text, file, 'trait file', 'trait-invalid'); } catch (e) {
      return { file, ok: false, issues: [{ path: '$', message: PipelineError.is(e) ? (e as Error).message.replace(`${file}: `, '') : `cannot read (${(e as Error).message})` }] };
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
