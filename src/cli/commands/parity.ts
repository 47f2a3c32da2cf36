/** `persona-lab parity <fixture-dir>`: compile the checkpoint in a reference-dump folder and compare (logic in src/engine/model/parity.ts). */
import { UsageError, type CliCommand } from '../command.js';
import { runParity, type ParityReport } from '../../engine/model/parity.js';
import type { GraphVariant } from '../../engine/model/types.js';

export const parityCommand: CliCommand = {
  name: 'parity',
  summary: 'Check a compiled graph against reference outputs (expected.safetensors) in a checkpoint folder',
  usage: [
    'Usage: persona-lab parity <fixture-dir> [--variant portable|fused|both] [--tolerance 1e-4] [--cache-dir DIR]',
    '',
    '<fixture-dir> holds config.json + model.safetensors and expected.safetensors (format: fixtures/parity/README.md).',
    'Prints one JSON object with max abs differences (logits, hidden states, steered outputs), greedy match and variant.',
    'Exit code 0 only when every check is within tolerance.',
  ].join('\n'),
  async run(ctx) {
    const dir = ctx.args[0];
    if (!dir) throw new UsageError('missing <fixture-dir>');
    const v = String(ctx.flags.variant ?? 'both');
    if (!['portable', 'fused', 'both'].includes(v)) throw new UsageError(`--variant must be portable, fused or both (got ${v})`);
    const tolerance = ctx.flags.tolerance !== undefined ? Number(ctx.flags.tolerance) : undefined;
    if (tolerance !== undefined && !(tolerance > 0)) throw new UsageError('--tolerance must be a positive number');
    const cacheDir = typeof ctx.flags['cache-dir'] === 'string' ? ctx.flags['cache-dir'] : undefined;
    const variants: GraphVariant[] = v === 'both' ? ['portable', 'fused'] : [v as GraphVariant];
    const reports: ParityReport[] = [];
    for (const variant of variants) {
      ctx.stderr(`parity: ${dir} (${variant})…`);
      reports.push(await runParity(dir, { variant, tolerance, cacheDir }));
    }
    const ok = reports.every((r) => r.ok);
    ctx.stdout(JSON.stringify(reports.length === 1 ? reports[0] : { ok, variants: reports }, null, 2));
    return ok ? 0 : 1;
  },
};
