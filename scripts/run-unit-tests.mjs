// Runs every test/**/*.test.ts with node's built-in test runner (TypeScript through tsx).
// Usage: node scripts/run-unit-tests.mjs [substring filter...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const filters = process.argv.slice(2);
const files = [];
const walk = (d) => {
  for (const n of readdirSync(d)) {
    const p = path.join(d, n);
    if (n === 'node_modules' || n === 'e2e') continue;
    if (statSync(p).isDirectory()) walk(p);
    else if (n.endsWith('.test.ts') && (filters.length === 0 || filters.some((f) => p.includes(f)))) files.push(path.relative(root, p));
  }
};
walk(path.join(root, 'test'));
files.sort();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  cwd: root, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
});
process.exit(r.status ?? 1);
