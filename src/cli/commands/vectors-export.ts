/** persona-lab vectors export: a Persona Lab vector file as upstream's bare-tensor .pt, for upstream's scripts. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, printJson, required, str } from '../common.js';
import { OUTPUT_OPTIONS } from '../../core/jobs/table.js';
import { readVectorFile, VECTOR_KINDS, type VectorKind } from '../../core/vectors/file.js';
import { writeTorchTensor } from '../../core/vectors/torch.js';

export const vectorsExport: CliCommand = {
  name: 'vectors export',
  summary: 'Write a vector file as upstream\'s <trait>_<kind>_diff.pt (torch.load-able float32 [L+1, H])',
  options: [
    { name: 'kind', type: 'enum', values: [...VECTOR_KINDS, 'all'], default: 'response_avg', help: 'which vector (all: the three kinds)' },
    { name: 'out', type: 'path', arg: '<file.pt|folder>', help: 'output file or folder (default: next to the input)' },
    ...OUTPUT_OPTIONS,
  ],
  usage: `persona-lab vectors export <vector.safetensors> [options]
  Rows keep the layer convention (row ℓ = hidden_states[ℓ]). Default output: next to the input,
  <trait>_<kind>_diff.pt (the name upstream's scripts look for). --kind all writes the three kinds.`,
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
