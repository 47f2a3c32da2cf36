/** Descriptive statistics with pandas semantics: missing scores (null/NaN) are skipped, std uses ddof = 1. */

export type Score = number | null;

export function present(xs: readonly Score[]): number[] {
  return xs.filter((x): x is number => x !== null && Number.isFinite(x));
}

export function mean(xs: readonly Score[]): number | null {
  const v = present(xs);
  if (v.length === 0) return null;
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}

export function median(xs: readonly Score[]): number | null {
  const v = present(xs).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Sample standard deviation (ddof = 1, like pandas); null for fewer than 2 values. */
export function std(xs: readonly Score[]): number | null {
  const v = present(xs);
  if (v.length < 2) return null;
  const m = mean(v)!;
  let s = 0;
  for (const x of v) s += (x - m) ** 2;
  return Math.sqrt(s / (v.length - 1));
}

export interface Summary { mean: number | null; median: number | null; std: number | null; n: number }
export function summarize(xs: readonly Score[]): Summary {
  return { mean: mean(xs), median: median(xs), std: std(xs), n: present(xs).length };
}

/** a − b where both exist. */
export function diff(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a - b;
}
