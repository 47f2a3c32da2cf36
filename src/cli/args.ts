/**
 * argv → declared option values (src/core/jobs/options.ts): `--name value`, `--name=value`, switches (boolean
 * options take no value, so `--json <file>` leaves the file a positional), and a usage error for an unknown option
 * that lists the valid ones. Values are converted and validated before any work starts.
 */
import { parseOptionValue, type OptionSpec } from '../core/jobs/options.js';
import type { OptionValues } from '../core/jobs/defaults.js';
import { UsageError } from './command.js';

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): { args: string[]; flags: OptionValues } {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const args: string[] = [];
  const flags: OptionValues = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') { args.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq > 0 ? eq : undefined);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown option --${name}; valid options: ${specs.map((s) => `--${s.name}`).join(' ')}`);
    let raw: string | boolean;
    if (eq > 0) raw = a.slice(eq + 1);
    else if (spec.type === 'boolean') raw = true;
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) raw = argv[++i];
    else throw new UsageError(`--${name} needs a value`);
    flags[name] = parseOptionValue(spec, raw);
  }
  for (const s of specs) if (s.required && flags[s.name] === undefined && !flags.help) throw new UsageError(`--${s.name} is required`);
  return { args, flags };
}
