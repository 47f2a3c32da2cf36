/**
 * Torn JSONL lines (src/core/storage/jsonl.ts): what a crash mid-append leaves — bytes after the last newline, or a last
 * line cut inside its JSON — is dropped, truncated on open and reported (a process warning the CLI prints on stderr);
 * a bad line with records after it is not a crash artefact and is refused with its line number, truncating nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonlLog, readJsonl } from '../../../src/core/storage/jsonl.js';
import { PipelineError } from '../../../src/core/errors.js';

const warnings: { message: string; code?: string }[] = [];
process.on('warning', (w) => warnings.push({ message: w.message, code: (w as { code?: string }).code }));
const nextTick = () => new Promise((r) => setImmediate(r));

test('a torn tail (no newline, or a cut last line) is repaired on open and reported', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-jsonl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, tail] of [['no-newline', '{"k":3,"pa'], ['cut-line', '{"k":3,"pa\n']] as const) {
    const f = path.join(dir, `${name}.jsonl`);
    writeFileSync(f, '{"k":1}\n{"k":2}\n');
    appendFileSync(f, tail);
    warnings.length = 0;
    const log = JsonlLog.open<{ k: number }>(f);
    await nextTick();
    assert.deepEqual(log.records, [{ k: 1 }, { k: 2 }]);
    assert.deepEqual(log.repaired, { file: f, droppedBytes: Buffer.byteLength(tail), keptRecords: 2 });
    assert.equal(readFileSync(f, 'utf8'), '{"k":1}\n{"k":2}\n', 'truncated to the complete records');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].code, 'PERSONA_LAB_JSONL_REPAIRED');
    assert.match(warnings[0].message, new RegExp(`${name}\\.jsonl: repaired a torn last line .*dropped ${Buffer.byteLength(tail)} bytes, kept 2 complete records`));
    // A clean file opens silently.
    warnings.length = 0;
    assert.equal(JsonlLog.open(f).repaired, undefined);
    await nextTick();
    assert.equal(warnings.length, 0);
  }
});

test('a bad line before the last is refused with its line number, and nothing is truncated', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-jsonl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'bad.jsonl');
  const text = '{"k":1}\n{"k":2,,}\n{"k":3}\n';
  writeFileSync(f, text);
  assert.throws(() => JsonlLog.open(f), (e) => PipelineError.is(e, 'data-invalid') && /bad\.jsonl, line 2: not valid JSON/.test((e as Error).message));
  assert.throws(() => readJsonl(f), (e) => PipelineError.is(e, 'data-invalid'));
  assert.equal(readFileSync(f, 'utf8'), text);
});
