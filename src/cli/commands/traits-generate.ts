/** persona-lab traits generate: writes extract + eval trait files made by an OpenAI-compatible chat model. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { UsageError } from '../command.js';
import { EXIT, flag, printJson, required, str, workspace } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { generateTrait } from '../../core/traits/generate.js';

export const traitsGenerate: CliCommand = {
  name: 'traits generate',
  summary: 'Create a trait (5 instruction pairs, 20+20 questions, judge prompt) with a chat model',
  options: JOBS['traits-generate'],
  usage: `persona-lab traits generate --name <trait> --description <text> --base-url <url> --model <model> [options]`,
  async run(ctx) {
    const name = required(ctx, 'name');
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new UsageError('--name must be a single word (letters, digits, _ or -): it becomes the file name and the assistant name');
    const out = path.resolve(str(ctx, 'out') ?? workspace(ctx).traitsDir);
    const files = { extract: path.join(out, 'extract', `${name}.json`), eval: path.join(out, 'eval', `${name}.json`) };
    if (!flag(ctx, 'force') && (existsSync(files.extract) || existsSync(files.eval))) throw new UsageError(`${files.extract} or ${files.eval} exists; pass --force to overwrite`);
    const r = await generateTrait({
      name, description: required(ctx, 'description'), questionGuidance: str(ctx, 'question-guidance'),
      baseURL: required(ctx, 'base-url'), model: required(ctx, 'model'), apiKey: process.env[required(ctx, 'api-key-env')],
      maxAttempts: required(ctx, 'max-attempts'), temperature: required(ctx, 'temperature'),
      onAttempt: (a, problems) => ctx.stderr(problems.length ? `attempt ${a}: ${problems.join('; ')}` : `attempt ${a}: ok`),
    });
    for (const set of ['extract', 'eval'] as const) {
      mkdirSync(path.dirname(files[set]), { recursive: true });
      writeFileSync(files[set], JSON.stringify(r[set], null, 2) + '\n');
    }
    if (ctx.json) printJson(ctx, { files, attempts: r.attempts });
    else ctx.stdout(`wrote ${files.extract}\nwrote ${files.eval}`);
    return EXIT.ok;
  },
};
