/**
 * scripts/package.mjs: one .vsix per platform onnxruntime-node ships binaries for. Builds every one
 * (`--target all`, into a temporary folder so dist/ is left alone), lists each package's contents with
 * a small zip central-directory reader, and checks that each carries its own platform's binding and
 * runtime, no other platform's native files, the toy models and the bundles, and declares its target.
 * Needs the build (dist/); skips with that reason when dist/ is not built.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { after, describe, test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string; main: string };
const ortBin = path.join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
const SHIPPED = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64']
  .filter((t) => existsSync(path.join(ortBin, ...t.split('-'), 'onnxruntime_binding.node')));
const SKIP = existsSync(path.join(root, manifest.main)) && existsSync(path.join(root, 'dist', 'worker.js')) ? false : 'dist/ is not built (run `npm run build`)';

interface ZipEntry { name: string; size: number; method: number; offset: number; compressedSize: number }

/** The central directory of a zip file (no zip64: a .vsix is far below 4 GB). */
function listZip(buf: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a zip file (no end-of-central-directory record)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = buf.readUInt16LE(p + 10);
    const compressedSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const offset = buf.readUInt32LE(p + 42);
    entries.push({ name: buf.toString('utf8', p + 46, p + 46 + nameLen), size, method, offset, compressedSize });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function readEntry(buf: Buffer, e: ZipEntry): string {
  const start = e.offset + 30 + buf.readUInt16LE(e.offset + 26) + buf.readUInt16LE(e.offset + 28);
  const data = buf.subarray(start, start + e.compressedSize);
  return (e.method === 8 ? inflateRawSync(data) : data).toString('utf8');
}

const NATIVE = /\.(node|so(\.\d+)*|dll|dylib)$/;
const outDir = mkdtempSync(path.join(os.tmpdir(), 'persona-lab-package-'));
after(() => rmSync(outDir, { recursive: true, force: true }));

describe('per-platform .vsix packages', () => {
  test(`--target all builds ${SHIPPED.join(', ')}, each with only its own native files`, { skip: SKIP, timeout: 600_000 }, () => {
    assert.ok(SHIPPED.length >= 5, `onnxruntime-node should ship ≥ 5 platforms (found ${SHIPPED.join(', ')})`);
    const r = spawnSync(process.execPath, ['scripts/package.mjs', '--target', 'all', '--out-dir', outDir], { cwd: root, encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
    assert.equal(r.status, 0, `package.mjs failed:\n${r.stdout}\n${r.stderr}`);
    assert.deepEqual(readdirSync(outDir).sort(), SHIPPED.map((t) => `${manifest.name}-${t}-${manifest.version}.vsix`).sort());
    for (const target of SHIPPED) {
      const file = path.join(outDir, `${manifest.name}-${target}-${manifest.version}.vsix`);
      const buf = readFileSync(file);
      const entries = listZip(buf);
      const names = entries.map((e) => e.name);
      const own = `extension/node_modules/onnxruntime-node/bin/napi-v6/${target.replace('-', '/')}/`;
      const native = names.filter((n) => NATIVE.test(n));
      const foreign = native.filter((n) => !n.startsWith(own));
      const sizeMb = (buf.length / 1024 / 1024).toFixed(1);
      console.log(`${target}: ${sizeMb} MB, ${names.length} files; native: ${native.map((n) => `${path.basename(n)} (${(entries.find((e) => e.name === n)!.size / 1048576).toFixed(1)} MB)`).join(', ')}`);
      assert.deepEqual(foreign, [], `${target} package carries foreign native files`);
      assert.ok(names.includes(`${own}onnxruntime_binding.node`), `${target}: no onnxruntime_binding.node`);
      const runtime = { linux: /^libonnxruntime\.so\.1$/, darwin: /^libonnxruntime\.1\.dylib$/, win32: /^onnxruntime\.dll$/ }[target.split('-')[0] as 'linux' | 'darwin' | 'win32'];
      assert.ok(native.some((n) => runtime.test(path.basename(n))), `${target}: no onnxruntime library (${native.join(', ')})`);
      assert.ok(!native.some((n) => /providers_(cuda|tensorrt)/.test(n)), `${target}: CUDA provider libraries belong only in --cuda builds`);
      if (target.startsWith('win32')) assert.ok(native.some((n) => path.basename(n) === 'DirectML.dll'), `${target}: DirectML.dll missing`);
      for (const f of ['extension/dist/extension.cjs', 'extension/dist/worker.js', 'extension/dist/cli.js', 'extension/package.json']) assert.ok(names.includes(f), `${target}: ${f} missing`);
      assert.ok(!names.some((n) => n.endsWith('.map') || n.endsWith('.vsix')), `${target}: source maps or nested packages`);
      if (existsSync(path.join(root, 'models', 'toy-persona'))) {
        assert.ok(names.some((n) => n.startsWith('extension/models/toy-persona/')), `${target}: the toy model is missing`);
      }
      const vsixManifest = readEntry(buf, entries.find((e) => e.name === 'extension.vsixmanifest')!);
      assert.match(vsixManifest, new RegExp(`TargetPlatform="${target}"`), `${target}: the manifest declares another target`);
    }
  });

  test('a platform onnxruntime-node does not ship, and an unknown target, are refused by name', { skip: SKIP }, () => {
    const run = (t: string) => spawnSync(process.execPath, ['scripts/package.mjs', '--target', t, '--out-dir', outDir], { cwd: root, encoding: 'utf8' });
    const missing = ['darwin-x64', 'linux-x64', 'win32-x64'].find((t) => !SHIPPED.includes(t));
    if (missing) {
      const r = run(missing);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`ships no ${missing} binaries.*it ships: ${SHIPPED.join(', ')}`));
    }
    const bad = run('solaris-sparc');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown target "solaris-sparc"; targets: linux-x64, .* or all/);
  });
});
