/** The vector names a steering server offers: every vector file in a folder, by file stem (= trait name). */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

export function vectorsInFolder(dir: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (dir && existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.safetensors')) out.set(f.slice(0, -'.safetensors'.length), path.join(dir, f));
  }
  return out;
}
