// A judge-cache writer process for test/core/shared-state.integration.test.ts: puts keys from..to (some shared with the other
// writers) into the cache in <dir>, each after a get() miss, as a judge task would.
import { JudgeCache } from '../../../src/core/judge/cache.js';

const [dir, from, to] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const cache = new JudgeCache(dir, 'judge/model');
let wrote = 0;
for (let i = from; i < to; i++) {
  const k = `key-${i}`;
  if (cache.get(k)) continue;
  cache.put({ k, score: i % 101, probs: { [String(i % 101)]: 1, pad: i / 7 } });
  wrote++;
}
process.stdout.write(`${wrote}\n`);
