/**
 * Counter-based uniform random numbers for sampling. The draw for (seed, step) is a pure hash of the two,
 * so a row's random stream depends only on its own seed and how many tokens it has generated — never on
 * which other rows share its batch, on batch order, or on earlier requests. That is what makes sampling
 * batch-invariant and bitwise reproducible across runs.
 */

/** murmur3 fmix32: a bijective avalanche on 32-bit integers. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform double in [0, 1) with 53 random bits for draw number `step` of the stream `seed`. */
export function uniformAt(seed: number, step: number): number {
  const s = fmix32((seed >>> 0) ^ 0x9e3779b9);
  const hi = fmix32(s ^ fmix32((step >>> 0) + 0x632be5ab)) >>> 5; // 27 bits
  const lo = fmix32(hi ^ s ^ fmix32((step >>> 0) ^ 0x85157af5)) >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** Fold any finite number into a 32-bit seed (negative and > 2^32 seeds stay distinct where they can). */
export function normalizeSeed(seed: number): number {
  if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
  const i = Math.trunc(seed);
  const lo = i >>> 0;
  const hi = Math.floor(i / 4294967296) >>> 0;
  return (lo ^ fmix32(hi)) >>> 0;
}
