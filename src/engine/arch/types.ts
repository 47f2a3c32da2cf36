/**
 * What one architecture family provides to the registry: which HF `architectures` / `model_type`
 * values it handles, its config defaults (as data, consumed by model/config.ts), and one build
 * function that reads like the HF modeling file's forward().
 */
import type { FamilyDefaults } from '../model/config.js';
import type { ModelBuilder } from './blocks.js';

export interface ArchitectureFamily {
  /** File/family name, e.g. "llama". */
  family: string;
  /** HF `architectures[0]` values handled (e.g. "LlamaForCausalLM"). */
  architectures: string[];
  /** HF `model_type` values handled (used when `architectures` is absent). */
  modelTypes: string[];
  /** Defaults of the HF configuration class for keys config.json may omit. Per model_type when they differ. */
  defaults: (modelType: string) => FamilyDefaults;
  /** Emit the whole decoder: embeddings → blocks → final norm → logits. */
  build: (m: ModelBuilder) => void;
}
