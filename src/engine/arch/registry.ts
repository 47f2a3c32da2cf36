/**
 * The architecture registry: one table, one row per family file. Adding an architecture means
 * writing its file and adding it here (the registry-wide tests in test/engine pick it up).
 */
import { CompileError } from '../model/errors.js';
import { apertusFamily } from './apertus.js';
import { gemmaFamily } from './gemma.js';
import { gpt2Family } from './gpt2.js';
import { llamaFamily } from './llama.js';
import { olmoFamily } from './olmo.js';
import { phi3Family } from './phi3.js';
import { qwenFamily } from './qwen.js';
import type { ArchitectureFamily } from './types.js';

export const ARCHITECTURES: readonly ArchitectureFamily[] = [
  llamaFamily,
  qwenFamily,
  olmoFamily,
  gpt2Family,
  apertusFamily,
  gemmaFamily,
  phi3Family,
];

export function supportedArchitectures(): string[] {
  return ARCHITECTURES.flatMap((a) => a.architectures);
}

/** Find the family for a raw HF config (by architectures[0], else model_type). */
export function lookupArchitecture(raw: Record<string, unknown>): ArchitectureFamily {
  const arch = Array.isArray(raw.architectures) ? String(raw.architectures[0]) : undefined;
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : undefined;
  const found = (arch && ARCHITECTURES.find((a) => a.architectures.includes(arch)))
    || (modelType && ARCHITECTURES.find((a) => a.modelTypes.includes(modelType)));
  if (!found) {
    throw new CompileError('unsupported-architecture',
      `architecture ${arch ?? '(none)'} (model_type ${modelType ?? '(none)'}) is not supported. Supported: ${supportedArchitectures().join(', ')}. See src/engine/arch/HOWTO-add-architecture.md to add one.`);
  }
  return found;
}
