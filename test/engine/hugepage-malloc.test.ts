/**
 * withHugePageMalloc (model/ort-cache.ts): the GLIBC_TUNABLES value for a process that loads models. It adds
 * glibc's huge-page malloc to whatever the caller set, keeps a caller's own hugetlb choice, and leaves other
 * platforms alone (issue 16, warm load time: fresh prepacking buffers at every load, DESIGN.md "Load time").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HUGEPAGE_MALLOC_TUNABLE, withHugePageMalloc } from '../../src/engine/model/ort-cache.js';

test('adds the huge-page tunable when none is set', () => {
  assert.equal(withHugePageMalloc(undefined, 'linux'), 'glibc.malloc.hugetlb=1');
  assert.equal(withHugePageMalloc('', 'linux'), HUGEPAGE_MALLOC_TUNABLE);
});

test('keeps the caller\'s other tunables, in order', () => {
  assert.equal(withHugePageMalloc('glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0', 'linux'),
    'glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1');
  assert.equal(withHugePageMalloc('glibc.malloc.arena_max=2:', 'linux'), 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
});

test('a hugetlb choice the caller made wins (0 turns it off, 2 asks for hugetlbfs pages)', () => {
  for (const v of ['glibc.malloc.hugetlb=0', 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2']) {
    assert.equal(withHugePageMalloc(v, 'linux'), v);
  }
});

test('other platforms: unchanged', () => {
  assert.equal(withHugePageMalloc(undefined, 'darwin'), undefined);
  assert.equal(withHugePageMalloc('x=1', 'win32'), 'x=1');
});
