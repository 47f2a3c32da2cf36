/**
 * Which execution providers can run here, decided from files on disk before onnxruntime is asked
 * (onnxruntime-node throws instead of falling back, and a failed CUDA probe costs a library load).
 *
 * - cuda: onnxruntime-node's installer fetches libonnxruntime_providers_{shared,cuda}.so from outside
 *   the npm registry (`ONNXRUNTIME_NODE_INSTALL=cuda12`); our default install skips that, so CUDA is
 *   present only when those files sit next to the binding (linux-x64).
 * - webgpu: carried by the linux-x64, win32 and darwin builds (Dawn over Vulkan / D3D12 / Metal). 'auto'
 *   tries it only where a GPU device exists: on Linux, a DRM render node or an NVIDIA device file. A
 *   machine without one can still have a software Vulkan driver (lavapipe, used to test the WebGPU
 *   path in CI), which is far slower than the CPU provider; it is used only when asked for by name.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ExecutionProvider } from './types.js';

export const CUDA_HOWTO = 'the CUDA provider libraries are not installed: onnxruntime-node downloads them from outside the npm registry, '
  + 'so on a Linux x64 machine with an NVIDIA driver and CUDA 12 (+ cuDNN 9) reinstall with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` '
  + '(the .vsix: `npm run package -- --target linux-x64 --cuda`); README "GPU notes"';

/** onnxruntime-node's native folder for this platform (bin/napi-v6/<platform>/<arch>), or null when it cannot be found. */
export function ortBinDir(): string | null {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    // entry: <pkg>/dist/index.js
    const dir = path.join(path.dirname(path.dirname(entry)), 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

/** True when the CUDA provider libraries are installed next to onnxruntime-node's binding. */
export function cudaInstalled(binDir = ortBinDir()): boolean {
  return !!binDir && existsSync(path.join(binDir, 'libonnxruntime_providers_cuda.so')) && existsSync(path.join(binDir, 'libonnxruntime_providers_shared.so'));
}

/** onnxruntime-node 1.30 carries WebGPU on these platforms (not linux-arm64). */
export function webgpuBundled(): boolean {
  return (process.platform === 'linux' && process.arch === 'x64') || process.platform === 'win32' || process.platform === 'darwin';
}

/** On Linux: a hardware GPU device node (DRM render node, NVIDIA, WSL's /dev/dxg). Elsewhere: assumed. */
export function gpuDevicePresent(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    if (existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))) return true;
  } catch { /* unreadable /dev/dri: no GPU for us */ }
  return existsSync('/dev/nvidia0') || existsSync('/dev/dxg');
}

/**
 * The providers 'auto' tries, in order, and why the others were left out (reported to clients with
 * the failures, so "why did this run on CPU?" has an answer).
 */
export function autoProviders(): { order: ExecutionProvider[]; skipped: { provider: ExecutionProvider; error: string }[] } {
  const order: ExecutionProvider[] = [];
  const skipped: { provider: ExecutionProvider; error: string }[] = [];
  if (process.platform === 'linux' && process.arch === 'x64') {
    if (cudaInstalled()) order.push('cuda');
    else skipped.push({ provider: 'cuda', error: `not tried: ${CUDA_HOWTO}` });
  }
  if (webgpuBundled()) {
    if (gpuDevicePresent()) order.push('webgpu');
    else skipped.push({ provider: 'webgpu', error: 'not tried: no GPU device (/dev/dri/renderD*, /dev/nvidia0); ask for `webgpu` by name to use a software Vulkan driver' });
  }
  order.push('cpu');
  return { order, skipped };
}

/** A clearer reason when a provider asked for by name cannot start; null when there is nothing to add. */
export function providerHint(ep: ExecutionProvider): string | null {
  if (ep === 'cuda') {
    if (process.platform !== 'linux' || process.arch !== 'x64') return `onnxruntime-node offers CUDA on linux-x64 only (this is ${process.platform}-${process.arch}); use cpu or webgpu`;
    return cudaInstalled() ? null : CUDA_HOWTO;
  }
  if (ep === 'webgpu') {
    if (!webgpuBundled()) return `onnxruntime-node's ${process.platform}-${process.arch} build has no WebGPU provider; use cpu`;
    if (process.platform === 'linux') {
      return 'WebGPU needs the Vulkan loader (Debian/Ubuntu: `apt-get install libvulkan1`) and a Vulkan driver for the GPU (NVIDIA: the proprietary driver\'s ICD; '
        + 'Mesa: mesa-vulkan-drivers); without a GPU, scripts/webgpu-setup.sh installs a software driver (lavapipe) for testing';
    }
  }
  return null;
}
