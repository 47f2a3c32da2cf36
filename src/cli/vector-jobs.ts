/** Flag handling shared by evaluate, grid and controls (all steer with a stored vector). */
import path from 'node:path';
import type { CliContext } from './command.js';
import { UsageError } from './command.js';
import { int, num, sampling, str, throughput, traitFiles, type Session, progressPrinter } from './common.js';
import { modelKind } from '../core/backend.js';
import { VECTOR_KINDS, type VectorKind } from '../core/vectors/file.js';
import { TOY_PROTOCOL } from '../core/toy/protocol.js';

export function vectorJobBase(ctx: CliContext, s: Session, trait: string) {
  const samp = sampling(ctx, s.isToy, modelKind(s.model) === 'chat');
  const files = traitFiles(ctx, s.ws, trait, { eval: true });
  let instructionTrait;
  try { instructionTrait = traitFiles(ctx, s.ws, trait, { extract: true }).extract; } catch { instructionTrait = undefined; }
  const kind = str(ctx, 'kind', 'response_avg') as VectorKind;
  if (!VECTOR_KINDS.includes(kind)) throw new UsageError(`--kind must be one of ${VECTOR_KINDS.join(', ')}`);
  const vectorPath = str(ctx, 'vector') ? path.resolve(str(ctx, 'vector')!) : s.ws.vectorPath(s.model.name, s.model.revision, trait);
  return {
    ws: s.ws, model: s.model, judge: s.judge, trait, evalTrait: files.eval!, instructionTrait, vectorPath, kind,
    sampling: samp.params, samplerPreset: samp.preset, seed: int(ctx, 'seed', 1000), samples: int(ctx, 'samples', s.isToy ? TOY_PROTOCOL.evalSamples : 10),
    maxQuestions: num(ctx, 'max-questions'), runId: str(ctx, 'run-id'), progress: progressPrinter(ctx, trait), signal: ctx.signal, ...throughput(ctx),
  };
}

export const VECTOR_USAGE = `Vector: [--vector <file.safetensors | upstream <trait>_<kind>_diff.pt>] (default <workspace>/vectors/<model>/<revision>/<trait>.safetensors) [--kind response_avg|prompt_avg|prompt_last]
Eval: [--samples N] [--seed 1000] [--max-questions N]`;
