/** persona-lab vectors export: a Persona Lab vector file as upstream's bare-tensor .pt, for upstream's scripts. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, printJson, str } from '../common.js';
import { readVectorFile, VECTOR_KINDS, type VectorKind } from '../../core/vectors/file.js';
import { writeTorchTensor } from '../../core/vectors/torch.js';

export const vectorsExport: CliCommand = {
  name: 'vectors export',
  summary: 'Write a vector file as upstream\'s <trait>_<kind>_diff.pt (torch.load-able float32 [L+1, H])',
  usage: `persona-lab vectors export <vector.safetensors> [--kind response_avg|prompt_avg|prompt_last|all] [--out <file.pt|folder>]
  Rows keep the layer convention (row ℓ = hidden_states[ℓ]). Default output: next to the input,
  <trait>_<kind>_diff.pt (the name upstream's scripts look for). --kind all writes the three kinds.`,
  async run(ctx) {
    const input = ctx.args[0];
    if (!input) throw new UsageError('give a vector file (.safetensors)');
    if (!existsSync(input)) throw new UsageError(`${input} does not exist`);
    const kindFlag = str(ctx, 'kind', 'response_avg');
    if (kindFlag !== 'all' && !VECTOR_KINDS.includes(kindFlag as VectorKind)) throw new UsageError(`--kind must be one of ${VECTOR_KINDS.join(', ')}, all`);
    const kinds = kindFlag === 'all' ? [...VECTOR_KINDS] : [kindFlag as VectorKind];
    const v = readVectorFile(path.resolve(input));
    const trait = path.basename(input).replace(/\.(safetensors|pt)$/, '');
    const out = str(ctx, 'out');
    const written: string[] = [];
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
