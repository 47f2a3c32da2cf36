/**
 * Checkpoint revision names → training order ("sorted by tokens" in upstream's geometry plots).
 *
 *   stage<K>-step<N>[-tokens<T><B|T>]   OLMo-style (stage 1 pretraining, stage 2 mid-training, stage 3 long context)
 *   step<N>[-tokens<T><B|T>]            Apertus-style
 *   main                               the final model: always last
 * Anything else sorts after the parsed names (by name) and before `main`.
 */
export interface RevisionKey {
  name: string;
  stage: number;
  step: number;
  /** Tokens seen when the name says so (Apertus "tokens210B"), else null. */
  tokens: number | null;
  parsed: boolean;
  isMain: boolean;
}

const UNITS: Record<string, number> = { M: 1e6, B: 1e9, T: 1e12 };
const STAGED = /^stage(\d+)-step(\d+)(?:-tokens(\d+(?:\.\d+)?)([MBT]))?$/;
const PLAIN = /^step(\d+)(?:-tokens(\d+(?:\.\d+)?)([MBT]))?$/;

export function parseRevision(name: string): RevisionKey {
  if (name === 'main') return { name, stage: Infinity, step: Infinity, tokens: null, parsed: true, isMain: true };
  let m = STAGED.exec(name);
  if (m) return { name, stage: Number(m[1]), step: Number(m[2]), tokens: m[3] ? Number(m[3]) * UNITS[m[4]] : null, parsed: true, isMain: false };
  m = PLAIN.exec(name);
  if (m) return { name, stage: 1, step: Number(m[1]), tokens: m[2] ? Number(m[2]) * UNITS[m[3]] : null, parsed: true, isMain: false };
  return { name, stage: Infinity, step: Infinity, tokens: null, parsed: false, isMain: false };
}

export function compareRevisions(a: string, b: string): number {
  const x = parseRevision(a), y = parseRevision(b);
  if (x.isMain !== y.isMain) return x.isMain ? 1 : -1;
  if (x.parsed !== y.parsed) return x.parsed ? -1 : 1;
  if (!x.parsed) return a < b ? -1 : a > b ? 1 : 0;
  return x.stage - y.stage || x.step - y.step || (a < b ? -1 : a > b ? 1 : 0);
}

/** Revisions in training order, `main` last. */
export function sortRevisions(names: Iterable<string>): string[] {
  return [...names].sort(compareRevisions);
}
