/** persona-lab vectors export: a Persona Lab vector file as upstream's bare-tensor .pt, or a llama.cpp / repeng GGUF control vector. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, printJson, required, str } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { ggufModelHint, rowsToControlVector, writeControlVector } from '../../core/vectors/gguf.js';
import { readVectorFile, VECTOR_KINDS, type VectorKind } from '../../core/vectors/file.js';
import { writeTorchTensor } from '../../core/vectors/torch.js';

export const vectorsExport: CliCommand = {
  name: 'vectors export',
  summary: 'Write a vector file as upstream\'s <trait>_<kind>_diff.pt (torch.load-able float32 [L+1, H]) or a GGUF control vector',
  options: JOBS['vectors-export'],
  usage: `persona-lab vectors export <vector.safetensors> [options]
  Rows keep the layer convention (row ℓ = hidden_states[ℓ]). Default output: next to the input,
  <trait>_<kind>_diff.pt (the name upstream's scripts look for). --kind all writes the three kinds.
  --format gguf: <trait>_<kind>.gguf for llama.cpp --control-vector (repeng's format): row ℓ becomes direction.(ℓ−1),
  llama.cpp's index of the block whose output it is added to; rows 0, 1 and L have no llama.cpp equivalent and are left
  out (src/core/vectors/gguf.ts explains why).`,
  async run(ctx) {
    const input = ctx.args[0];
    if (!input) throw new UsageError('give a vector file (.safetensors)');
    if (!existsSync(input)) throw new UsageError(`${input} does not exist`);
    const kindFlag = required(ctx, 'kind');
    const kinds = kindFlag === 'all' ? [...VECTOR_KINDS] : [kindFlag as VectorKind];
    const v = readVectorFile(path.resolve(input));
    const trait = path.basename(input).replace(/\.(safetensors|pt)$/, '');
    const out = str(ctx, 'out');
    const written: string[] = [];
    if (required(ctx, 'format') === 'gguf') {
      const hint = ggufModelHint(v.metadata, str(ctx, 'model-hint'));
      const skippedAll: { kind: string; row: number; why: string }[] = [];
      for (const kind of kinds) {
        const data = v.data[kind];
        if (!data) throw new UsageError(`${input} has no ${kind} vector`);
        const rows = ctx.flags.layers as number[] | undefined;
        if (rows) for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= v.layers) throw new UsageError(`--layers ${r}: rows are 0..${v.layers - 1}`);
        const { cv, skipped } = rowsToControlVector(data, v.layers, v.hidden, { rows, modelHint: hint, metadata: { 'persona_lab.trait': trait, 'persona_lab.kind': kind } });
        const name = `${trait}_${kind}.gguf`;
        const file = !out ? path.join(path.dirname(path.resolve(input)), name)
          : out.endsWith('.gguf') && kinds.length === 1 ? path.resolve(out) : path.join(path.resolve(out), name);
        writeControlVector(file, cv);
        written.push(file);
        skippedAll.push(...skipped.map((x) => ({ kind, ...x })));
        if (!ctx.json) ctx.stdout(`wrote ${file}: ${[...cv.directions.keys()].map((n) => `direction.${n} (row ${n + 1})`).join(', ')}`);
      }
      if (ctx.json) printJson(ctx, { files: written, skipped: skippedAll });
      else for (const x of skippedAll.filter((k) => k.why !== 'all zero')) ctx.stderr(`${x.kind} row ${x.row} left out: ${x.why}`);
      return EXIT.ok;
    }
    for (const kind of kinds) {
      const data = v.data[kind];
      if (!data) throw new UsageError(`${input} has no ${kind} vector`);
      const name = `${trait}_${kind}_diff.pt`;
      const file = !out ? path.join(path.dirname(path.resolve(input)), name)
        : out.endsWith('.pt') && kinds.length === 1 ? path.resolve(out) : path.join(path.resolve(out), name);
      writeTorchTensor(file, [v.layers, v.hidden], data);
      written.push(file);
    }
    if (ctx.json) printJson(ctx, { files: written, shape: [v.layers, v.hidden] });
    else for (const f of written) ctx.stdout(`wrote ${f} [${v.layers}, ${v.hidden}]`);
    return EXIT.ok;
  },
};
