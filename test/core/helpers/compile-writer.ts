// One process compiling the toy checkpoint into a given compile cache (test/core/shared-state.integration.test.ts runs several at once).
import { lookupArchitecture } from '../../../src/engine/arch/registry.js';
import { openCheckpoint } from '../../../src/engine/model/checkpoint.js';
import { compileToCache } from '../../../src/engine/model/compile.js';
import { normalizeConfig } from '../../../src/engine/model/config.js';

const [modelDir, cacheDir] = process.argv.slice(2);
const ckpt = openCheckpoint({ kind: 'folder', path: modelDir });
const family = lookupArchitecture(ckpt.rawConfig);
const cfg = normalizeConfig(ckpt.rawConfig, family.defaults(String(ckpt.rawConfig.model_type ?? '')));
const c = compileToCache(family, cfg, ckpt, 'portable', cacheDir);
process.stdout.write(JSON.stringify({ key: c.key, onnxPath: c.onnxPath, cacheHit: c.cacheHit }) + '\n');
