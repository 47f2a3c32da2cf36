/** Option handling shared by evaluate, grid and controls (all steer with a stored vector: --vector, --kind, --vector-key, --scaling). */
import path from 'node:path';
import type { CliContext } from './command.js';
import { num, progressPrinter, required, sampling, str, throughput, traitFiles, type Session } from './common.js';
import { modelKind } from '../core/backend.js';
import { steerScalingFor } from '../core/jobs/defaults.js';
import type { VectorKind } from '../core/vectors/file.js';

export function vectorJobBase(ctx: CliContext, s: Session, trait: string) {
  const samp = sampling(ctx, s.isToy, modelKind(s.model) === 'chat');
  const files = traitFiles(ctx, s.ws, trait, { eval: true });
  let instructionTrait;
  try { instructionTrait = traitFiles(ctx, s.ws, trait, { extract: true }).extract; } catch { instructionTrait = undefined; }
  const vectorPath = str(ctx, 'vector') ? path.resolve(str(ctx, 'vector')!) : s.ws.vectorPath(s.model.name, s.model.revision, trait);
  return {
    ws: s.ws, model: s.model, judge: s.judge, trait, evalTrait: files.eval!, instructionTrait, vectorPath, kind: required<VectorKind>(ctx, 'kind'),
    vectorKey: str(ctx, 'vector-key'), scaling: steerScalingFor(ctx.flags),
    sampling: samp.params, samplerPreset: samp.preset, seed: required<number>(ctx, 'seed'), samples: required<number>(ctx, 'samples', s.isToy),
    maxQuestions: num(ctx, 'max-questions'), runId: str(ctx, 'run-id'), progress: progressPrinter(ctx, trait), signal: ctx.signal, ...throughput(ctx),
  };
}
