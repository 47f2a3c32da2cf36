/** persona-lab traits validate <file|dir>: checks trait files against the upstream schema. */
import { existsSync } from 'node:fs';
import type { CliCommand } from '../command.js';
import { UsageError } from '../command.js';
import { EXIT, printJson } from '../common.js';
import { validateTraitPath } from '../../core/traits/load.js';
import { OUTPUT_OPTIONS } from '../../core/jobs/table.js';

export const traitsValidate: CliCommand = {
  name: 'traits validate',
  summary: 'Check trait files (upstream schema) and report every bad field',
  options: OUTPUT_OPTIONS,
  usage: 'persona-lab traits validate <file.json|folder> [--json]\n  Exit code 0 when every file is valid, 1 otherwise.',
  async run(ctx) {
    const target = ctx.args[0];
    if (!target) throw new UsageError('give a trait file or a folder of trait files');
    if (!existsSync(target)) throw new UsageError(`${target} does not exist`);
    const reports = validateTraitPath(target);
    if (ctx.json) printJson(ctx, { ok: reports.every((r) => r.ok), files: reports });
    else {
      for (const r of reports) {
        ctx.stdout(`${r.ok ? 'ok     ' : 'INVALID'} ${r.file}`);
        for (const i of r.issues) ctx.stdout(`        ${i.path}: ${i.message}`);
      }
      ctx.stderr(`${reports.filter((r) => r.ok).length}/${reports.length} valid`);
    }
    return reports.every((r) => r.ok) ? EXIT.ok : EXIT.failure;
  },
};
