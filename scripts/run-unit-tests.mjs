// Runs every test/**/*.test.ts (except test/e2e, which runs inside VS Code) with node's built-in
// test runner, TypeScript through tsx.
// Usage: node scripts/run-unit-tests.mjs [path-substring filter...]
//
// Besides the spec output it writes a TAP copy to read the runner's own totals, prints
// `unit tests: N passed, N failed (S skipped, T todo)` and, when PERSONA_LAB_TALLY names a file,
// appends `unit <passed> <failed>` to it (scripts/test-all.sh sums that file).
// "passed" is node's `# pass` (it counts subtests and their parents), "failed" is fail + cancelled.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
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
if (files.length === 0) {
  console.error(filters.length ? `No test file under test/ matches ${filters.join(', ')}.` : 'No test files under test/.');
  process.exit(filters.length ? 1 : 0);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'persona-lab-unit-'));
const tap = path.join(tmp, 'report.tap');
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1',
  '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files], {
  cwd: root, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
});

let text = '';
try { text = readFileSync(tap, 'utf8'); } catch { /* the runner died before writing; counted below */ }
rmSync(tmp, { recursive: true, force: true });
const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
let passed = count('pass');
let failed = count('fail') + count('cancelled');
if (Number.isNaN(passed) || Number.isNaN(failed)) {
  // No totals means the runner itself crashed: report one failure rather than a silent zero.
  passed = 0; failed = 1;
  console.error(`unit tests: the test runner ended (${r.status ?? r.signal}) without totals.`);
} else if (r.status !== 0 && failed === 0) {
  failed = 1; // non-zero exit without a failed test (e.g. an uncaught error at file load)
}
console.log(`unit tests: ${passed} passed, ${failed} failed (${count('skipped') || 0} skipped, ${count('todo') || 0} todo)`);
if (process.env.PERSONA_LAB_TALLY) appendFileSync(process.env.PERSONA_LAB_TALLY, `unit ${passed} ${failed}\n`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
