/**
 * Typed access to the `personaLab.*` settings. Every setting the extension reads is declared here
 * once (the same names appear in package.json `contributes.configuration`), so no other module
 * spells a setting key by hand.
 */
import * as vscode from 'vscode';
import { PipelineError } from '../core/errors.js';
import { judgeSpecFor, loadOptionsFor } from '../core/jobs/defaults.js';
import type { JudgeSpec } from '../core/judge/factory.js';
import type { LoadModelParams } from '../engine/protocol.js';
import type { WeightFormat } from '../engine/model/types.js';
import { identifyModel, type ModelIdentity } from '../core/models.js';

export const CONFIG_SECTION = 'personaLab';

export type ExecutionProvider = 'auto' | 'cpu' | 'cuda' | 'webgpu';

export interface PersonaLabSettings {
  /** Extra model folders (HF checkpoint folders, or folders that contain several). */
  modelPaths: string[];
  /** Workspace data folder, relative to the first workspace folder unless absolute. */
  workspaceFolder: string;
  executionProvider: ExecutionProvider;
  /** How weights live in memory (personaLab.weightFormat, the CLI's --weight-format). */
  weightFormat: WeightFormat;
  /** Intra-op threads for onnxruntime; 0 lets onnxruntime decide. */
  threads: number;
  judge: { baseUrl: string; model: string };
  /** Port of the steering server started from the editor (0 = any free port). */
  serverPort: number;
}

export function readSettings(): PersonaLabSettings {
  const c = vscode.workspace.getConfiguration(CONFIG_SECTION);
  return {
    modelPaths: c.get<string[]>('modelPaths', []).filter((p) => typeof p === 'string' && p.trim() !== ''),
    workspaceFolder: c.get<string>('workspaceFolder', '.persona-lab') || '.persona-lab',
    executionProvider: c.get<ExecutionProvider>('executionProvider', 'auto'),
    weightFormat: c.get<WeightFormat>('weightFormat', 'f32'),
    threads: Math.max(0, Math.floor(c.get<number>('threads', 0))),
    judge: { baseUrl: c.get<string>('judge.baseUrl', ''), model: c.get<string>('judge.model', '') },
    serverPort: Math.max(0, Math.min(65535, Math.floor(c.get<number>('server.port', 8000)))),
  };
}

/**
 * The settings every model load in the extension passes to the worker (threads, execution provider), resolved like
 * the CLI's --threads/--provider (src/core/jobs/defaults.ts): one place, so no command can forget one — extraction
 * and sweeps once ignored the execution provider.
 */
export function modelLoadSettings(): Pick<LoadModelParams, 'threads' | 'executionProvider' | 'weightFormat'> {
  const s = readSettings();
  return loadOptionsFor({ threads: s.threads, provider: s.executionProvider, 'weight-format': s.weightFormat });
}

/** A checkpoint's identity for runs and vector folders under the weight-format setting (core's identifyModel rule). */
export function modelIdentity(modelPath: string, revision?: string): ModelIdentity {
  return identifyModel(modelPath, revision, modelLoadSettings().weightFormat);
}

/**
 * The judge for a model, from personaLab.judge.* (the CLI's --judge-base-url/--judge-model, same defaults): the
 * rubric judge on the toy model; API key from OPENAI_API_KEY.
 */
export function judgeSpec(toy: boolean, apiKey?: string): JudgeSpec {
  const { baseUrl, model } = readSettings().judge;
  // The editor has no judge choice: the toy model always gets the rubric judge (README), others the configured one.
  const spec = judgeSpecFor({ judge: toy ? 'rubric' : 'openai', 'judge-base-url': baseUrl || undefined, 'judge-model': model || undefined }, toy);
  if (!spec) throw new PipelineError('judge-not-configured', 'this model needs an LLM judge: set personaLab.judge.baseUrl (an OpenAI-compatible endpoint with logprobs; personaLab.judge.model picks the model) and its key with "Persona Lab: Set Judge API Key" (or OPENAI_API_KEY in the environment)');
  // A key from SecretStorage ("Set Judge API Key") wins over the environment; it goes only into the judge's requests.
  return spec.kind === 'openai' && apiKey ? { ...spec, apiKey } : spec;
}

/** The SecretStorage key under which "Set Judge API Key" keeps the judge's key (never in settings, logs, manifests or caches). */
export const JUDGE_KEY_SECRET = 'personaLab.judge.apiKey';

/** judgeSpec with the key from SecretStorage, when one was set. */
export async function judgeSpecWithSecret(toy: boolean, secrets: vscode.SecretStorage | undefined): Promise<JudgeSpec> {
  return judgeSpec(toy, toy ? undefined : await secrets?.get(JUDGE_KEY_SECRET));
}

/** True when a change event touches any Persona Lab setting. */
export function affectsPersonaLab(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(CONFIG_SECTION);
}
