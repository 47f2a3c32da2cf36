#!/usr/bin/env bash
# GPU check: on a Linux machine with an NVIDIA GPU and no network, run Persona Lab's GPU route and
# write every figure as one JSON ($OUT/gpu-check.json; OUT defaults to ./gpu-check-out).
#
#   bash scripts/gpu-check.sh [--provider cuda|webgpu] [--allow-software] [--no-bench] [--no-peer]
#
# 1. Provider: CUDA when onnxruntime-node's CUDA provider libraries are installed
#    (`ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`, done beforehand: they come from outside the npm
#    registry); otherwise WebGPU over the NVIDIA driver's own Vulkan ICD. The Vulkan loader comes from
#    the system or, when the machine has none, from the copy scripts/webgpu-setup.sh leaves in
#    .cache/webgpu/libvulkan.so.1 (carry that folder with the checkout).
# 2. Parity fixtures on that provider, both graph variants: f32 within 1e-4 (parity's own verdict);
#    f16 logits within 5e-2 (atol = rtol), hidden states within 0.15 abs, greedy tokens equal
#    (half-precision compute; test/engine/webgpu.integration.test.ts states the measured values).
# 3. The bench's generation and capture on the ~1 B random Llama in f32 and f16
#    (scripts/bench/run.ts --provider P --models random-llama-1b --formats f32,f16 --workloads gen,steered-gen,capture).
# 4. Where transformers + torch with CUDA are installed: the peer researchers use today, HF generate +
#    forward hooks at batch 20 on the same weights (scripts/gpu-peer.py).
#
# Without an NVIDIA GPU it says so and exits 2, unless --allow-software: then it runs steps 1–2 on
# WebGPU over Mesa's software Vulkan driver (lavapipe; correctness only, no speed figures).
# Exit codes: 0 every parity check passed; 1 a parity check or step failed; 2 no GPU / bad usage.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ONNXRUNTIME_NODE_INSTALL=skip
OUT="${OUT:-$ROOT/gpu-check-out}"
PROVIDER="" SOFTWARE=0 BENCH=1 PEER=1
log() { printf '[gpu-check] %s\n' "$*" >&2; }
usage() { sed -n '4p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --provider) PROVIDER="${2:-}"; shift 2 ;;
    --provider=*) PROVIDER="${1#*=}"; shift ;;
    --allow-software) SOFTWARE=1; shift ;;
    --no-bench) BENCH=0; shift ;;
    --no-peer) PEER=0; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done
case "$PROVIDER" in ""|cuda|webgpu) ;; *) log "--provider must be cuda or webgpu (got $PROVIDER)"; exit 2 ;; esac
mkdir -p "$OUT"

# --- the GPU -------------------------------------------------------------------------------------
GPU_NAME=""
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  GPU_NAME="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
elif [ -e /dev/nvidia0 ]; then
  GPU_NAME="NVIDIA (nvidia-smi unavailable)"
fi
if [ -z "$GPU_NAME" ]; then
  if [ "$SOFTWARE" = 0 ]; then
    log "no NVIDIA GPU here (no working nvidia-smi, no /dev/nvidia0): this script measures a real GPU."
    log "  To check the WebGPU route's correctness on the CPU instead: bash scripts/gpu-check.sh --allow-software"
    exit 2
  fi
  log "no NVIDIA GPU: --allow-software, so WebGPU on Mesa's software Vulkan driver (lavapipe), correctness only"
  [ -z "$PROVIDER" ] || [ "$PROVIDER" = webgpu ] || { log "--allow-software runs webgpu only"; exit 2; }
  PROVIDER=webgpu BENCH=0 PEER=0
fi

ORT_BIN="$ROOT/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
if [ -z "$PROVIDER" ]; then
  if [ -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ] && [ -f "$ORT_BIN/libonnxruntime_providers_shared.so" ]; then
    PROVIDER=cuda
  else
    PROVIDER=webgpu
    log "CUDA provider libraries not installed (ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci fetches them; not possible offline): using WebGPU"
  fi
fi

# --- WebGPU: Vulkan loader + ICD --------------------------------------------------------------------
if [ "$PROVIDER" = webgpu ]; then
  # grep without -q reads all of ldconfig's output: with -q it stops at the first match, ldconfig can die of SIGPIPE,
  # and under pipefail the test then says "no loader" on a machine that has one.
  if ! ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1 ' >/dev/null; then
    if [ -f "$ROOT/.cache/webgpu/libvulkan.so.1" ]; then
      export LD_LIBRARY_PATH="$ROOT/.cache/webgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      log "Vulkan loader: the carried copy in .cache/webgpu"
    else
      log "no Vulkan loader (libvulkan.so.1) on this machine and none carried in .cache/webgpu (run scripts/webgpu-setup.sh where apt works, then carry .cache/webgpu)"
      exit 1
    fi
  fi
  ICD=""
  if [ -n "$GPU_NAME" ]; then
    for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json /usr/share/vulkan/icd.d/nvidia_icd.json; do [ -f "$f" ] && { ICD="$f"; break; }; done
    [ -n "$ICD" ] || log "no NVIDIA Vulkan ICD file found (nvidia_icd.json); letting the loader search"
  else
    for f in /usr/share/vulkan/icd.d/lvp_icd*.json; do [ -f "$f" ] && { ICD="$f"; break; }; done
    [ -n "$ICD" ] || { log "no lavapipe ICD: run scripts/webgpu-setup.sh first"; exit 1; }
  fi
  [ -n "$ICD" ] && export VK_ICD_FILENAMES="$ICD"
  if [ -z "${XDG_RUNTIME_DIR:-}" ]; then export XDG_RUNTIME_DIR="$OUT/xdg-runtime"; mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"; fi
fi
log "GPU: ${GPU_NAME:-none (software)}; provider: $PROVIDER; output: $OUT"

[ -f dist/cli.js ] || { log "building dist/ (node scripts/build.mjs)"; node scripts/build.mjs >&2 || exit 1; }

# --- parity ---------------------------------------------------------------------------------------
FIXTURES="${PERSONA_LAB_PARITY_FIXTURES:-$ROOT/../shared/fixtures/parity}"
FIXTURE_NAMES="${PERSONA_LAB_GPU_CHECK_FIXTURES:-llama_gqa qwen2 gpt2 olmo2}"   # a subset for quick runs
failed=0
for fx in $FIXTURE_NAMES; do
  [ -d "$FIXTURES/$fx" ] || { log "parity fixture $FIXTURES/$fx is missing"; failed=1; continue; }
  for fmt in f32 f16; do
    tol=1e-4; [ "$fmt" = f16 ] && tol=5e-2
    log "parity $fx $fmt on $PROVIDER (tolerance $tol)"
    # Exit 1 with a report = outside parity's single tolerance; the verdict is made below (f16: per quantity).
    node dist/cli.js parity "$FIXTURES/$fx" --variant both --provider "$PROVIDER" --weight-format "$fmt" --tolerance "$tol" \
      --cache-dir "$OUT/graphs" > "$OUT/parity-$fx-$fmt.json" 2> "$OUT/parity-$fx-$fmt.log"
    rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then failed=1; log "  FAILED to run (exit $rc; see $OUT/parity-$fx-$fmt.log)"; fi
  done
done

# --- bench on the ~1 B model ----------------------------------------------------------------------
if [ "$BENCH" = 1 ]; then
  log "bench: random-llama-1b, f32 + f16, gen / steered-gen / capture on $PROVIDER"
  npx tsx scripts/bench/run.ts --provider "$PROVIDER" --models random-llama-1b --formats f32,f16 --workloads gen,steered-gen,capture \
    --out "$OUT/gpu-bench.json" > "$OUT/gpu-bench.md" 2> "$OUT/gpu-bench.log" || { failed=1; log "  bench FAILED (see $OUT/gpu-bench.log)"; }
fi

# --- the transformers + torch peer ----------------------------------------------------------------
if [ "$PEER" = 1 ]; then
  MODEL_DIR="$ROOT/.cache/bench/models/random-llama-1b"
  if [ ! -f "$MODEL_DIR/config.json" ]; then
    echo '{"skipped": "the bench did not write .cache/bench/models/random-llama-1b"}' > "$OUT/gpu-peer.json"
  else
    log "peer: transformers generate + forward hooks at batch 20 (f32, f16)"
    python3 scripts/gpu-peer.py "$MODEL_DIR" --batch 20 --out "$OUT/gpu-peer.json" > /dev/null 2> "$OUT/gpu-peer.log"
    rc=$?
    if [ "$rc" = 3 ]; then log "  peer skipped: $(cat "$OUT/gpu-peer.json")"; elif [ "$rc" != 0 ]; then failed=1; log "  peer FAILED (see $OUT/gpu-peer.log)"; fi
  fi
fi

# --- one JSON ---------------------------------------------------------------------------------------
FIXTURE_NAMES="$FIXTURE_NAMES" GPU_NAME="$GPU_NAME" PROVIDER="$PROVIDER" SOFTWARE="$SOFTWARE" FAILED="$failed" BENCH="$BENCH" PEER="$PEER" node --input-type=module -e '
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
const out = process.argv[1];
const read = (f) => { try { return JSON.parse(readFileSync(`${out}/${f}`, "utf8")); } catch { return existsSync(`${out}/${f}`) ? { error: `${f} is not JSON` } : null; } };
const parity = {};
const names = process.env.FIXTURE_NAMES.split(/\s+/).filter(Boolean);
for (const fx of names) for (const fmt of ["f32", "f16"]) {
  const r = read(`parity-${fx}-${fmt}.json`);
  if (!r) continue;
  const variants = r.variants ?? (r.variant ? [r] : []);
  const rows = variants.map((v) => {
    const row = { variant: v.variant, provider: v.executionProvider, format: v.weightFormat,
      maxAbsLogits: Math.max(v.batch.logits.maxAbs, v.single.logits.maxAbs, v.steered.logits.maxAbs, v.greedy.stepLogits.maxAbs),
      maxAbsHidden: Math.max(v.batch.hiddenStates.maxAbs, v.single.hiddenStates.maxAbs, v.steered.hiddenStates.maxAbs),
      greedyMatch: v.greedy.match && v.steeredGreedy.match, zeroSteeringBitwise: v.zeroSteeringBitwise, loadMs: Math.round(v.loadMs) };
    // f32: the parity verdict at 1e-4. f16: logits within 5e-2 (atol = rtol), hidden within 0.15 abs, tokens equal.
    const logitsOk = ["batch", "single", "steered"].every((k) => v[k].logits.ok) && v.greedy.stepLogits.ok;
    row.ok = fmt === "f32" ? v.ok === true : logitsOk && row.maxAbsHidden <= 0.15 && row.greedyMatch && row.zeroSteeringBitwise;
    row.criterion = fmt === "f32" ? "all outputs within 1e-4" : "logits within 5e-2 (atol = rtol), hidden states within 0.15 abs, greedy tokens equal";
    return row;
  });
  (parity[fx] ??= {})[fmt] = { ok: rows.length > 0 && rows.every((x) => x.ok), ...(r.error ? { error: r.error } : {}), variants: rows };
}
const parityOk = Object.values(parity).every((p) => Object.values(p).every((x) => x.ok)) && names.every((fx) => parity[fx]?.f32 && parity[fx]?.f16);
const doc = {
  when: new Date().toISOString(), gpu: process.env.GPU_NAME || null, software: process.env.SOFTWARE === "1",
  provider: process.env.PROVIDER, host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memBytes: os.totalmem(), node: process.version },
  ok: process.env.FAILED === "0" && parityOk, parity,
  bench: process.env.BENCH === "1" ? read("gpu-bench.json") : { skipped: process.env.SOFTWARE === "1" ? "software Vulkan: correctness only, no speed figures" : "--no-bench" },
  peer: process.env.PEER === "1" ? read("gpu-peer.json") : { skipped: process.env.SOFTWARE === "1" ? "software Vulkan: correctness only" : "--no-peer" },
};
writeFileSync(`${out}/gpu-check.json`, JSON.stringify(doc, null, 2) + "\n");
console.log(JSON.stringify({ ok: doc.ok, provider: doc.provider, gpu: doc.gpu, parity: Object.fromEntries(Object.entries(parity).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([f, x]) => [f, x.ok]))])) }));
process.exit(doc.ok ? 0 : 1);
' "$OUT"
ok=$?
log "figures: $OUT/gpu-check.json"
exit "$ok"
