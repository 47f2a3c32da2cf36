/**
 * The saved-session tags (ort-cache.ts) this onnxruntime build and CPU use, for both weight memories: what
 * cache-admin.ts needs to call another build's saved sessions stale. Apart from cache-admin.ts because it loads
 * onnxruntime-node (native): the CLI and the bench load it anyway; the extension host does not.
 */
import * as ort from 'onnxruntime-node';
import { sessionCacheTag } from './ort-cache.js';

export function currentSessionTags(): string[] {
  return [sessionCacheTag('mapped'), sessionCacheTag('prepacked')];
}

/** The onnxruntime version whose saved sessions those tags name. */
export const onnxruntimeVersion = (): string => ort.env.versions.common;
