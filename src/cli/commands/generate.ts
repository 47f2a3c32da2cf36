/** persona-lab generate: one-off generation, optionally steered with a stored vector. */
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { UsageError } from '../command.js';
import { EXIT, num, openSession, printJson, required, sampling, str } from '../common.js';
import { steerScalingFor } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { modelKind } from '../../core/backend.js';
import { evalPrompt, systemPrompt } from '../../core/prompts.js';
import { assertVectorFits, readVectorFile, vectorRow, type VectorKind } from '../../core/vectors/file.js';
import { steerCondition } from '../../core/evaluation/conditions.js';
import type { PromptInput, SteerPositions, SteerSpec } from '../../engine/protocol.js';

export const generateCommand: CliCommand = {
  name: 'generate',
  summary: 'Generate answers to one prompt, plain or steered',
  options: JOBS.generate,
  usage: `persona-lab generate --prompt <text> [--system <text> | --persona <name> --instruction <text>]
  [--vector <file> | --trait <name>] [--layer ℓ --coef c] [options]`,
  async run(ctx) {
    const text = required(ctx, 'prompt');
    const layer = num(ctx, 'layer'), coef = num(ctx, 'coef');
    if ((layer === undefined) !== (coef === undefined)) throw new UsageError('steering needs both --layer and --coef');
    const scaling = steerScalingFor(ctx.flags);
    const s = await openSession(ctx, { judge: false });
    try {
      const chat = modelKind(s.model) === 'chat';
      const system = str(ctx, 'system') ?? (str(ctx, 'persona') ? systemPrompt(str(ctx, 'persona')!, required(ctx, 'instruction')) : undefined);
      const prompt: PromptInput = system === undefined ? evalPrompt(chat ? 'chat' : 'base', text)
        : chat ? { messages: [{ role: 'system', content: system }, { role: 'user', content: text }] } : { text: `${system} ${text}` };
      let steer: SteerSpec[] | undefined;
      if (layer !== undefined && coef !== undefined) {
        const file = str(ctx, 'vector') ? path.resolve(str(ctx, 'vector')!) : s.ws.vectorPath(s.model.name, s.model.revision, required(ctx, 'trait'));
        const kind = required<VectorKind>(ctx, 'kind');
        const vec = readVectorFile(file, { key: str(ctx, 'vector-key'), kind });
        assertVectorFits(vec, file, { name: s.model.name, ...s.model.info.config });
        // --scaling: the worker scales the row (raw coef·v, unit coef·v/‖v‖, target-norm coef·N·v/‖v‖).
        steer = steerCondition('steer', vectorRow(vec, kind, layer), layer, coef, { positions: required<SteerPositions>(ctx, 'positions'), scaling }).steer;
      }
      const n = required<number>(ctx, 'n'), seed = required<number>(ctx, 'seed');
      const res = await s.model.backend.generate({ modelId: s.model.info.modelId, sampling: sampling(ctx, s.isToy, chat).params,
        rows: Array.from({ length: n }, (_, i) => ({ prompt, seed: seed + i, steer })) }, { signal: ctx.signal });
      // "Was the vector applied?": the norm the engine actually added per steered layer, and on how many tokens.
      if (ctx.json) printJson(ctx, { prompt: res.rows[0]?.promptText, answers: res.rows.map((r) => ({ text: r.text, finishReason: r.finishReason, tokens: r.tokenIds.length, ...(r.steeringApplied ? { steeringApplied: r.steeringApplied } : {}) })) });
      else {
        res.rows.forEach((r, i) => ctx.stdout(`${n > 1 ? `[${i}] ` : ''}${r.text}`));
        const applied = res.rows[0]?.steeringApplied;
        if (applied) ctx.stderr(`steering applied: ${applied.map((a) => `layer ${a.layer} ‖Δ‖ ${a.norm.toPrecision(4)} on ${a.tokens} tokens`).join('; ')} (answer 1)`);
      }
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
