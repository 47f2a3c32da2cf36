/**
 * The graph returns only a forward's new keys and values (names.ts `newKey`); `appendKv` lays past + new out as the
 * graph's own Concat along the position axis does, per (batch row, kv head), for float32 and float16 caches. That the
 * whole engine is unchanged by it bit for bit is shown by the KV-vs-recompute, pad-skip and batch tests; this pins
 * the layout, including a multi-token chunk after a past (a chunked prefill) and an empty past.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendKv } from '../../src/engine/model/session.js';

/** Reference: out[r, t, d] = t < P ? past[r, t, d] : fresh[r, t - P, d]. */
function concatRef(past: number[], fresh: number[], rows: number, P: number, S: number, D: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) for (let t = 0; t < P + S; t++) for (let d = 0; d < D; d++) {
    out.push(t < P ? past[(r * P + t) * D + d] : fresh[(r * S + t - P) * D + d]);
  }
  return out;
}

for (const [rows, P, S, D] of [[6, 5, 1, 4], [3, 7, 4, 2], [2, 0, 3, 3], [1, 1, 1, 1]] as const) {
  test(`appendKv: ${rows} rows, past ${P}, new ${S}, head dim ${D} — the Concat layout, in float32 and float16`, () => {
    const past = Array.from({ length: rows * P * D }, (_, i) => i + 1);
    const fresh = Array.from({ length: rows * S * D }, (_, i) => -(i + 1));
    const want = concatRef(past, fresh, rows, P, S, D);
    // The destination is a larger store (its tail is other data or headroom) and must keep its tail.
    const dst32 = new Float32Array(want.length + 5).fill(99);
    appendKv(dst32, Float32Array.from(past), Float32Array.from(fresh), rows, P, S, D);
    assert.deepEqual([...dst32.subarray(0, want.length)], want);
    assert.deepEqual([...dst32.subarray(want.length)], [99, 99, 99, 99, 99]);
    const dst16 = new Uint16Array(want.length);
    appendKv(dst16, Uint16Array.from(past), Uint16Array.from(fresh, (x) => 1000 - x), rows, P, S, D);
    assert.deepEqual([...dst16], want.map((x) => (x < 0 ? 1000 - x : x)));
  });
}
