/** `persona-lab parity <fixture-dir>`: compile the checkpoint in a reference-dump folder and compare (logic in src/engine/model/parity.ts). */
import { UsageError, type CliCommand } from '../command.js';
import { runParity, type ParityReport } from '../../engine/model/parity.js';
import type { ExecutionProvider, GraphVariant, WeightFormat } from '../../engine/model/types.js';
import { OUTPUT_OPTIONS } from '../../core/jobs/table.js';
import { required, str } from '../common.js';

export const parityCommand: CliCommand = {
  name: 'parity',
  summary: 'Check a compiled graph against reference outputs (expected.safetensors) in a checkpoint folder',
  options: [
    { name: 'variant', type: 'enum', values: ['portable', 'fused', 'both'], default: 'both', help: 'graph variant(s) to check' },
    { name: 'tolerance', type: 'number', check: (v) => ((v as number) > 0 ? undefined : 'must be a positive number'), help: 'max abs difference allowed (default 1e-4)' },
    { name: 'cache-dir', type: 'path', arg: 'DIR', help: 'graph compile cache (default ~/.cache/persona-lab/graphs or $PERSONA_LAB_CACHE)' },
    { name: 'provider', type: 'enum', values: ['cpu', 'webgpu', 'cuda'], default: 'cpu', help: 'execution provider to check (no fallback: a provider that cannot start is an error)' },
    { name: 'weight-format', type: 'enum', values: ['f32', 'f16', 'bf16', 'int8', 'int4'], default: 'f32', help: 'weight format to check (formats other than f32 need a wider --tolerance)' },
    ...OUTPUT_OPTIONS,
  ],
  usage: [
    'Usage: persona-lab parity <fixture-dir> [options]',
    '',
    '<fixture-dir> holds config.json + model.safetensors and expected.safetensors (format: fixtures/parity/README.md).',
    'Prints one JSON object with max abs differences (logits, hidden states, steered outputs), greedy match and variant.',
    'Exit code 0 only when every check is within tolerance.',
  ].join('\n'),
  async run(ctx) {
    const dir = ctx.args[0];
    if (!dir) throw new UsageError('missing <fixture-dir>');
    const v = required(ctx, 'variant');
    const tolerance = ctx.flags.tolerance as number | undefined;
    const cacheDir = str(ctx, 'cache-dir');
    const variants: GraphVariant[] = v === 'both' ? ['portable', 'fused'] : [v as GraphVariant];
    const reports: ParityReport[] = [];
    for (const variant of variants) {
      ctx.stderr(`parity: ${dir} (${variant}, ${required(ctx, 'provider')}, ${required(ctx, 'weight-format')})…`);
      reports.push(await runParity(dir, {
        variant, tolerance, cacheDir, executionProvider: required<ExecutionProvider>(ctx, 'provider'), weightFormat: required<WeightFormat>(ctx, 'weight-format'),
      }));
    }
    const ok = reports.every((r) => r.ok);
    ctx.stdout(JSON.stringify(reports.length === 1 ? reports[0] : { ok, variants: reports }, null, 2));
    return ok ? 0 : 1;
  },
};
