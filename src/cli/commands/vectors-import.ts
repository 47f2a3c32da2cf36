/** persona-lab vectors import: a llama.cpp / repeng GGUF control vector as a Persona Lab vector file (src/core/vectors/gguf.ts). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, flag, modelPath, printJson, required } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { identifyModel } from '../../core/models.js';
import { controlVectorToRows, readControlVector } from '../../core/vectors/gguf.js';
import { writeVectorFile } from '../../core/vectors/file.js';

export const vectorsImport: CliCommand = {
  name: 'vectors import',
  summary: 'Read a llama.cpp / repeng GGUF control vector (direction.N tensors) into a vector file for --model',
  options: JOBS['vectors-import'],
  usage: `persona-lab vectors import <control-vector.gguf> --out <file.safetensors> [--model <checkpoint>] [options]
  direction.N becomes row N+1 (N = llama.cpp's block index; row ℓ = hidden_states[ℓ]); the other rows are zero.
  The file is refused when its width is not the model's hidden size or it names a block the model does not have.
  Steer with it like any vector: --vector <file.safetensors> --layer ℓ (the response_avg rows).`,
  async run(ctx) {
    const input = ctx.args[0];
    if (!input) throw new UsageError('give a GGUF control vector file');
    if (!existsSync(input)) throw new UsageError(`${input} does not exist`);
    const out = path.resolve(required<string>(ctx, 'out'));
    if (!out.endsWith('.safetensors')) throw new UsageError(`--out ${out}: write a .safetensors vector file`);
    const m = modelPath(ctx);
    const cfgFile = path.join(m.path, 'config.json');
    if (!existsSync(cfgFile)) throw new UsageError(`${m.path} has no config.json; pass --model <checkpoint folder>`);
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as { num_hidden_layers?: number; hidden_size?: number; model_type?: string; n_layer?: number; n_embd?: number; text_config?: { num_hidden_layers?: number; hidden_size?: number } };
    const layers = cfg.num_hidden_layers ?? cfg.n_layer ?? cfg.text_config?.num_hidden_layers, hidden = cfg.hidden_size ?? cfg.n_embd ?? cfg.text_config?.hidden_size;
    if (!layers || !hidden) throw new UsageError(`${cfgFile} names no num_hidden_layers / hidden_size`);
    const name = identifyModel(m.path).name;
    const cv = readControlVector(path.resolve(input));
    const { data, rows } = controlVectorToRows(cv, { layers, hidden, name }, input, { dropLast: flag(ctx, 'drop-last') });
    writeVectorFile(out, { layers: layers + 1, hidden, data: { response_avg: data }, metadata: { source: `gguf:${path.basename(input)}`, model: name, model_type: cfg.model_type ?? '', gguf_model_hint: cv.modelHint } });
    if (ctx.json) printJson(ctx, { file: out, rows, shape: [layers + 1, hidden], modelHint: cv.modelHint });
    else ctx.stdout(`wrote ${out} [${layers + 1}, ${hidden}]: rows ${rows.join(', ')} from direction.${rows.map((r) => r - 1).join(', direction.')}`);
    return EXIT.ok;
  },
};
