/**
 * The glibc malloc setting for processes that load models. Apart from ort-cache.ts (where the reasoning about
 * warm loads lives) because the client that spawns the inference worker imports it and must not load onnxruntime.
 */
export const HUGEPAGE_MALLOC_TUNABLE = 'glibc.malloc.hugetlb=1';

/**
 * `GLIBC_TUNABLES` for a process that loads models (the inference worker), read by glibc at process start only.
 *
 * Why: every prepacked weight gets a fresh buffer at each load (ort-cache.ts says why). glibc serves blocks above its mmap
 * threshold, which adapts only up to 32 MiB, with a fresh mmap, so on a 1 B model each 46 MiB MLP buffer and the
 * 262 MiB LM-head buffer is faulted in 4 KiB at a time, zeroed by the kernel and by onnxruntime, and unmapped
 * again: 823 k page faults, 13.6 s CPU for a warm f32 load. With huge-page-backed malloc the same load takes
 * 5.0–5.7 s CPU (1 B int8 plain load 5.6 → 4.1–4.6 s; 245 M f32 1.6–2.2 → 1.1–1.8 s). Outputs are the same
 * bytes (only where memory comes from changes); RSS after load is not higher; the peak of a batch-16 generation
 * on 245 M is 26–42 MiB higher (huge-page rounding of working buffers). Read at process start only, so it
 * belongs in the environment of the process that loads (DESIGN.md "Load time" says where). Keeps a caller's own
 * hugetlb choice and other tunables; not Linux: unchanged (musl and other libcs ignore the variable).
 */
export function withHugePageMalloc(tunables: string | undefined, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform !== 'linux') return tunables;
  const parts = (tunables ?? '').split(':').filter(Boolean);
  if (parts.some((p) => p.startsWith('glibc.malloc.hugetlb='))) return tunables;
  return [...parts, HUGEPAGE_MALLOC_TUNABLE].join(':');
}
