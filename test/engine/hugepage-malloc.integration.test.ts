/**
 * The tunable withHugePageMalloc (model/ort-cache.ts) sets is one glibc honours: a process started with it backs a
 * large malloc'd block with transparent huge pages, one started without does not (THP in "madvise" mode, the
 * default of Debian and most distributions). Where THP is "always" or "never", or off Linux, the difference
 * cannot show and the test skips, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { withHugePageMalloc } from '../../src/engine/model/ort-cache.js';

const thpMode = (() => {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'absent';
  }
})();

/** AnonHugePages (kB) of a fresh node process after it filled a 64 MiB Buffer (malloc'd by Node's allocator). */
function hugeKb(tunables: string | undefined): number {
  const env = { ...process.env };
  delete env.GLIBC_TUNABLES;
  if (tunables !== undefined) env.GLIBC_TUNABLES = tunables;
  const r = spawnSync(process.execPath, ['-e', `const b = Buffer.alloc(64 << 20, 1);
    const s = require('fs').readFileSync('/proc/self/smaps_rollup', 'utf8');
    process.stdout.write(String(Number(/AnonHugePages:\\s+(\\d+)/.exec(s)[1])) + ' ' + b[12345]);`], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [kb, byte] = r.stdout.split(' ').map(Number);
  assert.equal(byte, 1);
  return kb;
}

test('glibc backs large blocks with huge pages under the tunable, and not without it', {
  skip: process.platform !== 'linux' ? 'not Linux' : thpMode !== 'madvise' ? `transparent huge pages are "${thpMode}", not "madvise"` : false,
}, () => {
  const without = hugeKb(undefined);
  const withIt = hugeKb(withHugePageMalloc(undefined));
  assert.equal(without, 0, 'no huge pages without the tunable');
  assert.ok(withIt >= 32 * 1024, `at least half the 64 MiB block in huge pages under ${withHugePageMalloc(undefined)}, got ${withIt} kB`);
});

test('the inference worker starts with the tunable, keeping the caller\'s other tunables and its own hugetlb choice', { skip: process.platform !== 'linux' ? 'not Linux' : false }, async () => {
  const { InferenceClient, workerEnvironment } = await import('../../src/engine/client.js');
  assert.equal(workerEnvironment({}).GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1');
  assert.equal(workerEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES, 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
  assert.equal(workerEnvironment({}, { env: { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' } }).GLIBC_TUNABLES, 'glibc.malloc.hugetlb=0', 'a user\'s own choice wins');
  // The real worker process got it (glibc rewrites /proc/<pid>/environ's copy of a multi-tunable value, so one tunable).
  const client = await InferenceClient.start({ env: { GLIBC_TUNABLES: '' } });
  try {
    const environ = fs.readFileSync(`/proc/${client.pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes('GLIBC_TUNABLES=glibc.malloc.hugetlb=1'), environ.filter((kv) => kv.startsWith('GLIBC')).join(' ') || 'no GLIBC_TUNABLES');
  } finally {
    await client.dispose();
  }
});
