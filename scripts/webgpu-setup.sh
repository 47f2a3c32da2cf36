#!/usr/bin/env bash
# One-time, idempotent setup that lets onnxruntime-node's WebGPU execution provider run here
# without a GPU: Mesa's software Vulkan driver (lavapipe) plus the Vulkan loader.
#
# onnxruntime-node's linux-x64 build carries the WebGPU EP (Dawn over Vulkan) inside
# libonnxruntime.so.1; it needs only `libvulkan.so.1` and a Vulkan ICD. Bookworm's own Mesa 22.3
# is rejected by Dawn (lavapipe there lacks shaderUniform*ArrayDynamicIndexing), so Mesa comes
# from bookworm-backports: `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`.
#
# Installs, only when missing:
#   /etc/apt/sources.list.d/bookworm-backports.sources   (the backports suite, same mirror)
#   apt: libvulkan1, mesa-vulkan-drivers (from bookworm-backports)
#   .cache/webgpu/libvulkan.so.1   a copy of the loader, for scripts/gpu-check.sh to carry to a
#                                  GPU machine that has the NVIDIA driver but no loader
# Then prints, on stdout, the environment to use (eval-able):
#   XDG_RUNTIME_DIR=…  VK_ICD_FILENAMES=…/lvp_icd.x86_64.json  PERSONA_LAB_WEBGPU_ICD=…
#
# Exit codes: 0 ready; 1 could not install (no root/sudo, apt unreachable). A failure here only
# means the WebGPU tests skip (visibly); nothing else depends on it.
# Only the Debian archive is contacted, and only when something is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PERSONA_LAB_WEBGPU_CACHE:-$ROOT/.cache/webgpu}"
log() { printf '[webgpu-setup] %s\n' "$*" >&2; }

find_icd() {
  local f
  for f in /usr/share/vulkan/icd.d/lvp_icd.x86_64.json /usr/share/vulkan/icd.d/lvp_icd.*.json /usr/share/vulkan/icd.d/lvp_icd.json; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}
installed_version() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }
# bookworm's Mesa is 22.3.x; Dawn needs the backports build (25.x at the time of writing).
mesa_ok() {
  local v; v="$(installed_version mesa-vulkan-drivers)"
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 23 && find_icd >/dev/null
}
loader_ok() { [ -n "$(installed_version libvulkan1)" ]; }

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  log "onnxruntime-node carries a WebGPU provider for linux-x64 only here (this is $(uname -s)-$(uname -m)); nothing to set up"
  exit 1
fi

if ! mesa_ok || ! loader_ok; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || {
      log "need root (or passwordless sudo) to install libvulkan1 + mesa-vulkan-drivers from bookworm-backports"; exit 1; }
    SUDO="sudo -n"
  fi
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  if [ "$codename" = bookworm ]; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "adding the bookworm-backports suite (/etc/apt/sources.list.d/bookworm-backports.sources)"
      $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
    TARGET=(-t bookworm-backports)
  else
    TARGET=()   # newer Debian/Ubuntu: the release's own Mesa is recent enough
  fi
  log "apt-get install ${TARGET[*]} libvulkan1 mesa-vulkan-drivers"
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=600 >&2; then
    log "apt-get update failed (is the Debian archive reachable?)"; exit 1
  fi
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${TARGET[@]}" libvulkan1 mesa-vulkan-drivers >&2; then
    log "apt-get install failed"; exit 1
  fi
  mesa_ok || { log "mesa-vulkan-drivers $(installed_version mesa-vulkan-drivers) is too old for Dawn (needs ≥ 23, bookworm-backports)"; exit 1; }
fi

ICD="$(find_icd)"
# awk reads all of ldconfig's output (no early `exit`): otherwise ldconfig can die of SIGPIPE, and with pipefail
# this assignment fails the script (exit 141, seen once on a fresh clone).
LOADER="$(ldconfig -p 2>/dev/null | awk '/libvulkan\.so\.1 .*x86-64/ && !found {print $NF; found = 1}')"
[ -n "$LOADER" ] || LOADER=/usr/lib/x86_64-linux-gnu/libvulkan.so.1
mkdir -p "$CACHE"
if ! cmp -s "$LOADER" "$CACHE/libvulkan.so.1" 2>/dev/null; then
  cp -L "$LOADER" "$CACHE/libvulkan.so.1"
  log "copied the Vulkan loader to $CACHE/libvulkan.so.1 (scripts/gpu-check.sh carries it)"
fi
RUNTIME_DIR="${XDG_RUNTIME_DIR:-$CACHE/xdg-runtime}"
mkdir -p "$RUNTIME_DIR" && chmod 700 "$RUNTIME_DIR"
log "ready: mesa-vulkan-drivers $(installed_version mesa-vulkan-drivers), libvulkan1 $(installed_version libvulkan1), ICD $ICD"
echo "export XDG_RUNTIME_DIR=$RUNTIME_DIR"
echo "export VK_ICD_FILENAMES=$ICD"
echo "export PERSONA_LAB_WEBGPU_ICD=$ICD"
