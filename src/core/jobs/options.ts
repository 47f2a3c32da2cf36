/**
 * Declared options: one `OptionSpec` per option (name, type, default, help, validation), parsed and validated the
 * same way wherever a value comes from — the CLI's argv (src/cli/args.ts) or the editor's quick picks and
 * settings. The job table (./table.ts) lists which options each job takes.
 */
import { ReasonError } from '../../engine/errors.js';
export type OptionType = 'string' | 'path' | 'number' | 'int' | 'boolean' | 'enum' | 'list' | 'numlist' | 'json';
export type OptionValue = string | number | boolean | string[] | number[] | Record<string, unknown>;

export interface OptionSpec {
  /** kebab-case, the CLI flag without `--`. */
  name: string;
  type: OptionType;
  help: string;
  /** Shown in help instead of the type, e.g. "<file>", "N". */
  arg?: string;
  /** Default for every model; `toyDefault` overrides it on the embedded toy model. */
  default?: OptionValue;
  toyDefault?: OptionValue;
  /** Allowed values of an enum, or of each item of a list. */
  values?: readonly string[];
  required?: boolean;
  /** Extra check after type conversion; returns a problem or undefined. */
  check?: (v: OptionValue) => string | undefined;
}

/** A bad option value: a usage error (the CLI prints its usage and exits 2). */
export class OptionError extends ReasonError<'usage'> {
  override readonly name: string = 'OptionError';
  constructor(message: string) { super('usage', message); }
}

/** "1,2,3", an inclusive range "start:stop:step", or a mix "1,2:4:0.5". */
export function parseNumList(name: string, v: string): number[] {
  const out: number[] = [];
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const r = part.split(':').map(Number);
    if (r.some((x) => !Number.isFinite(x))) throw new OptionError(`--${name}: "${part}" is not a number or start:stop:step range`);
    if (r.length === 1) out.push(r[0]);
    else if (r.length === 3 && r[2] > 0) for (let x = r[0]; x <= r[1] + 1e-9; x += r[2]) out.push(Math.round(x * 1e6) / 1e6);
    else throw new OptionError(`--${name}: "${part}" must be a number or start:stop:step with step > 0`);
  }
  return out;
}

/** Converts one raw value to the option's type and validates it; the error names the option and what it takes. */
export function parseOptionValue(spec: OptionSpec, raw: string | boolean): OptionValue {
  const name = spec.name;
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new OptionError(`--${name} is a switch: give it without a value`);
  }
  if (typeof raw !== 'string') throw new OptionError(`--${name} needs a value`);
  let v: OptionValue;
  switch (spec.type) {
    case 'number': case 'int': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new OptionError(`--${name} must be a number (got "${raw}")`);
      if (spec.type === 'int' && !Number.isInteger(n)) throw new OptionError(`--${name} must be an integer (got ${n})`);
      v = n;
      break;
    }
    case 'enum':
      if (!spec.values!.includes(raw)) throw new OptionError(`--${name} must be one of ${spec.values!.join(', ')} (got "${raw}")`);
      v = raw;
      break;
    case 'list': {
      const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = spec.values ? items.filter((x) => !spec.values!.includes(x)) : [];
      if (bad.length) throw new OptionError(`--${name} takes ${spec.values!.join(', ')} (got "${bad.join(', ')}")`);
      v = items;
      break;
    }
    case 'numlist': v = parseNumList(name, raw); break;
    case 'json': {
      let j: unknown;
      try { j = JSON.parse(raw); } catch { j = undefined; }
      if (!j || typeof j !== 'object' || Array.isArray(j)) throw new OptionError(`--${name} must be a JSON object, e.g. '{"thinking":{"type":"disabled"}}'`);
      v = j as Record<string, unknown>;
      break;
    }
    default: v = raw;
  }
  const problem = spec.check?.(v);
  if (problem) throw new OptionError(`--${name} ${problem}`);
  return v;
}

/** The option's default: the toy model's when there is one and the model is the toy. */
export function optionDefault(spec: OptionSpec, toy = false): OptionValue | undefined {
  return toy && spec.toyDefault !== undefined ? spec.toyDefault : spec.default;
}

const show = (v: OptionValue) => (Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** One help line per option: `--name <arg>  help (default …)`. */
export function formatOptions(specs: readonly OptionSpec[]): string[] {
  const head = (s: OptionSpec) => `--${s.name}${s.type === 'boolean' ? '' : ` ${s.arg ?? (s.type === 'enum' ? s.values!.join('|') : `<${s.type}>`)}`}`;
  const w = Math.min(Math.max(...specs.map((s) => head(s).length)), 34);
  return specs.map((s) => {
    const dflt = s.default === undefined && s.toyDefault === undefined ? ''
      : s.toyDefault === undefined ? ` (default ${show(s.default!)})`
        : ` (default ${show(s.toyDefault)} on the toy model${s.default === undefined ? '' : `, else ${show(s.default)}`})`;
    return `  ${head(s).padEnd(w)}  ${s.required ? '(required) ' : ''}${s.help}${dflt}`;
  });
}
