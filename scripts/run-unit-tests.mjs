// Runs test/**/*.test.ts (except test/e2e, which runs inside VS Code) with node's built-in test runner,
// TypeScript through tsx, one tier at a time. The tier is in the file name, so a test's cost is visible where
// it lives (test/ mirrors src/):
//   unit         *.test.ts              pure units: no model load, no worker, no child process (under a minute)
//   integration  *.integration.test.ts  real checkpoints, the real worker process, the CLI, HTTP servers, clusters
//   faults       *.faults.test.ts       fault injection on long runs (reduced counts; PERSONA_LAB_FAULTS_FULL=1 for all)
// Usage: node scripts/run-unit-tests.mjs [--tier unit|integration|faults|all] [path-substring filter...]
//   Without --tier: every tier when filters are given (run one file wherever it lives), else unit.
//
// Besides the spec output it writes a TAP copy to read the runner's own totals, prints
// `<tier> tests: N passed, N failed, N skipped (T todo)` and, when PERSONA_LAB_TALLY names a file,
// appends `<tier> <passed> <failed> <skipped>` to it (scripts/test-all.sh sums that file, skips included, so a
// test that skips because ../shared or a system package is missing shows in the summary line).
// "passed" is node's `# pass` (it counts subtests and their parents), "failed" is fail + cancelled.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TIERS = ['unit', 'integration', 'faults'];
const tierOf = (file) => file.endsWith('.integration.test.ts') ? 'integration' : file.endsWith('.faults.test.ts') ? 'faults' : 'unit';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const argv = process.argv.slice(2);
let tier;
const filters = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--tier') tier = argv[++i];
  else if (argv[i].startsWith('--tier=')) tier = argv[i].slice('--tier='.length);
  else filters.push(argv[i]);
}
tier ??= filters.length ? 'all' : 'unit';
if (![...TIERS, 'all'].includes(tier)) {
  console.error(`--tier must be one of ${[...TIERS, 'all'].join(', ')} (got "${tier}")`);
  process.exit(2);
}

const all = [];
const walk = (d) => {
  for (const n of readdirSync(d)) {
    const p = path.join(d, n);
    if (n === 'node_modules' || n === 'e2e') continue;
    if (statSync(p).isDirectory()) walk(p);
    else if (n.endsWith('.test.ts')) all.push(path.relative(root, p));
  }
};
walk(path.join(root, 'test'));
all.sort();
const matching = all.filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
const files = matching.filter((f) => tier === 'all' || tierOf(f) === tier);
if (files.length === 0) {
  const elsewhere = [...new Set(matching.map(tierOf))];
  if (filters.length && elsewhere.length) console.error(`No ${tier} test matches ${filters.join(', ')}; matching files are in the ${elsewhere.join(', ')} tier (npm run test:${elsewhere[0]} -- ${filters.join(' ')}).`);
  else console.error(filters.length ? `No test file under test/ matches ${filters.join(', ')}.` : `No ${tier} test files under test/.`);
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
const skipped = count('skipped') || 0;
if (Number.isNaN(passed) || Number.isNaN(failed)) {
  // No totals means the runner itself crashed: report one failure rather than a silent zero.
  passed = 0; failed = 1;
  console.error(`${tier} tests: the test runner ended (${r.status ?? r.signal}) without totals.`);
} else if (r.status !== 0 && failed === 0) {
  failed = 1; // non-zero exit without a failed test (e.g. an uncaught error at file load)
}
console.log(`${tier} tests: ${passed} passed, ${failed} failed, ${skipped} skipped (${count('todo') || 0} todo; ${files.length} files)`);
if (process.env.PERSONA_LAB_TALLY) appendFileSync(process.env.PERSONA_LAB_TALLY, `${tier} ${passed} ${failed} ${skipped}\n`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
