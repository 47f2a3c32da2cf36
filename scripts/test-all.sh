#!/usr/bin/env bash
# `npm test`: everything, in order, on a fresh Debian machine (no GPU; network only for the npm
# registry and the Debian archive, used by the one-time E2E setup):
#   build → lint → WebGPU setup (lavapipe; optional) → unit, integration and faults tiers (node:test) →
#   package (.vsix) → E2E setup → E2E UI suite and extension-host suite in code-server, against the .vsix just built.
# A failing step does not stop the later ones (except that E2E needs the .vsix and its tools),
# and the script exits non-zero if anything failed. The last line is the total over all suites:
#   N passed, N failed, N skipped
# Counting: build, lint, package and E2E setup count as one check each; unit tests count node's
# test-runner totals; the extension-host suite counts mocha tests; the UI suite counts its checks.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ONNXRUNTIME_NODE_INSTALL=skip
TALLY="$(mktemp "${TMPDIR:-/tmp}/persona-lab-tally.XXXXXX")"
export PERSONA_LAB_TALLY="$TALLY"
trap 'rm -f "$TALLY"' EXIT
TIMINGS=()

# step NAME TIMEOUT_S COMMAND...: runs one step. Steps that count their own tests append
# "name passed failed" to $TALLY; for the others (or if a step dies before counting) the step
# itself is the single check.
step() {
  local name="$1" limit="$2"; shift 2
  local before t0 rc
  before=$(wc -l < "$TALLY"); t0=$(date +%s)
  printf '\n=== %s ===\n' "$name"
  timeout --kill-after=20 "$limit" "$@" </dev/null; rc=$?
  [ "$rc" = 124 ] && echo "$name: timed out after ${limit}s"
  if [ "$(wc -l < "$TALLY")" = "$before" ]; then
    if [ "$rc" = 0 ]; then echo "$name 1 0" >> "$TALLY"; else echo "$name 0 1" >> "$TALLY"; fi
  elif [ "$rc" != 0 ] && ! tail -n +"$((before + 1))" "$TALLY" | awk '$3 > 0 {f=1} END {exit !f}'; then
    echo "$name 0 1" >> "$TALLY"   # non-zero exit although every counted test passed
  fi
  TIMINGS+=("$(printf '%-14s %4ss  exit %s' "$name" "$(( $(date +%s) - t0 ))" "$rc")")
  return "$rc"
}
skip() { echo "$1 0 1" >> "$TALLY"; TIMINGS+=("$(printf '%-14s    -   not run: %s' "$1" "$2")"); }

step build 300 node scripts/build.mjs; build_rc=$?
step lint 600 npm run -s lint
# WebGPU on Mesa's software Vulkan (lavapipe), so the unit step tests the WebGPU provider without a GPU.
# Optional: when it cannot be installed (apt unreachable, no root) this step counts nothing and
# test/engine/webgpu.integration.test.ts skips with the reason.
step webgpu-setup 600 bash -c 'timeout 420 bash scripts/webgpu-setup.sh >/dev/null && exit 0
  echo "webgpu-setup: lavapipe unavailable; the WebGPU tests will be skipped"; echo "webgpu-setup 0 0 1" >> "$PERSONA_LAB_TALLY"'
# Test tiers by file name (scripts/run-unit-tests.mjs): pure units, then integration (real checkpoints, the
# worker, CLI, HTTP, the local Slurm cluster), then fault injection at reduced counts.
step unit "${PERSONA_LAB_UNIT_TIMEOUT:-300}" node scripts/run-unit-tests.mjs --tier unit
step integration "${PERSONA_LAB_INTEGRATION_TIMEOUT:-2700}" node scripts/run-unit-tests.mjs --tier integration
step faults "${PERSONA_LAB_FAULTS_TIMEOUT:-900}" node scripts/run-unit-tests.mjs --tier faults
if [ "$build_rc" = 0 ] && step package 300 node scripts/package.mjs; then
  if step e2e-setup 1200 bash scripts/e2e/setup.sh; then
    step e2e 3600 node scripts/e2e/run.mjs
  else
    skip e2e-ui "E2E setup failed"; skip e2e-exthost "E2E setup failed"; skip e2e-restricted "E2E setup failed"
  fi
else
  [ "$build_rc" = 0 ] || skip package "build failed"
  skip e2e-ui "no .vsix"; skip e2e-exthost "no .vsix"; skip e2e-restricted "no .vsix"
fi

printf '\n=== summary ===\n'
printf '%s\n' "${TIMINGS[@]}"
awk '{ printf "%-14s %s passed, %s failed, %s skipped\n", $1, $2, $3, $4 + 0 }' "$TALLY"
# Skips are counted too: a test that skips (no ../shared, no lavapipe, not root for Slurm) must show up.
read -r passed failed skipped < <(awk '{ p += $2; f += $3; s += $4 } END { print p + 0, f + 0, s + 0 }' "$TALLY")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
