/**
 * Peak memory of activation capture on the toy model (issue 16: "958 MB peak for the 1.8 MB toy"): 200
 * prompt+response items of 40–80 tokens, chunked by the tree's own autoBatchSize and captured with its own
 * captureBatch, in a fresh process; prints the process's peak RSS (VmHWM) and the chunking used.
 *
 *   npx tsx scripts/bench/profile-capture-memory.ts [--src DIR/src] [--items 200]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values: args } = parseArgs({ options: { src: { type: 'string' }, items: { type: 'string', default: '200' } } });
const src = path.resolve(args.src ?? path.join(import.meta.dirname, '..', '..', 'src'));
const mod = async (p: string) => import(pathToFileURL(path.join(src, p)).href);
const { loadModel } = await mod('engine/model/session.ts');
const { autoBatchSize, captureBatch } = await mod('engine/capture/capture.ts');
const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

const toy = path.resolve(import.meta.dirname, '..', '..', 'models', 'toy-persona', 'revisions', 'main');
const model = await loadModel({ kind: 'folder', path: toy }, { cacheDir: path.join(os.tmpdir(), 'pl-capmem-graphs'), intraOpNumThreads: 2 });
const afterLoad = hwm();
const n = Number(args.items);
const items = Array.from({ length: n }, (_, r) => ({ ids: Array.from({ length: 40 + (r % 41) }, (_, j) => 3 + ((r * 31 + j * 7) % 1000)), promptTokens: 20 }));
const sorted = [...items].sort((a, b) => a.ids.length - b.ids.length);
const t0 = performance.now();
let chunks = 0, largest = 0;
for (let start = 0; start < sorted.length;) {
  let k = 1;
  while (start + k < sorted.length && k + 1 <= autoBatchSize(model, sorted[start + k].ids.length)) k++;
  await captureBatch(model, sorted.slice(start, start + k), ['prompt_avg', 'response_avg', 'prompt_last'], 0);
  chunks++; largest = Math.max(largest, k); start += k;
}
const ms = performance.now() - t0;
await model.dispose();
console.log(JSON.stringify({ src, items: n, chunks, largestChunk: largest, captureMs: Math.round(ms), peakRssMB: Math.round(hwm() / 2 ** 20), rssAfterLoadMB: Math.round(afterLoad / 2 ** 20) }));
