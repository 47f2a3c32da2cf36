/**
 * Where the embedded toy persona model lives (models/toy-persona and models/toy-persona-instruct in the
 * repository, shipped inside the extension). Works from source (src/core/toy), from an esbuild bundle
 * in dist/, and from a VSIX install: resolve relative to this module's file, then walk up from it and
 * from the working directory until a folder containing models/toy-persona/world/lexicon.json appears.
 * PERSONA_LAB_TOY_MODEL overrides the search (a path to the models/toy-persona folder).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReasonError } from '../../engine/errors.js';

const MARKER = path.join('world', 'lexicon.json');

export class ToyModelNotFoundError extends ReasonError<'not-found'> {
  override readonly name = 'ToyModelNotFoundError';
  constructor(searched: string[]) {
    super('not-found', `cannot find the embedded toy model (models/toy-persona with world/lexicon.json); searched: ${searched.join(', ')}. `
      + 'Run from the Persona Lab repository or extension folder, or set PERSONA_LAB_TOY_MODEL to the models/toy-persona folder.');
  }
}

/** This module's own file, whether it runs from source (ESM) or inside a CommonJS bundle. */
function thisFile(): string {
  if (typeof __filename === 'string') return __filename;
  return fileURLToPath(import.meta.url);
}

function* ancestors(start: string): Generator<string> {
  let dir = path.resolve(start);
  for (;;) {
    yield dir;
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

let cached: string | undefined;

/** Absolute path of models/toy-persona (the base model's folder: revisions/, traits/, world/, manifest.json). */
export function toyModelDir(): string {
  const env = process.env.PERSONA_LAB_TOY_MODEL;
  if (env) {
    if (existsSync(path.join(env, MARKER))) return path.resolve(env);
    throw new ToyModelNotFoundError([env]);
  }
  if (cached) return cached;
  const searched: string[] = [];
  for (const start of [path.dirname(thisFile()), process.cwd()]) {
    for (const dir of ancestors(start)) {
      const candidate = path.join(dir, 'models', 'toy-persona');
      searched.push(candidate);
      if (existsSync(path.join(candidate, MARKER))) {
        cached = candidate;
        return candidate;
      }
    }
  }
  throw new ToyModelNotFoundError(searched);
}

/** models/toy-persona-instruct, next to models/toy-persona. */
export function toyInstructDir(): string {
  return path.join(path.dirname(toyModelDir()), 'toy-persona-instruct');
}

/** The lexicon shared by the corpus generator and the rubric judge. */
export function toyLexiconPath(): string {
  return path.join(toyModelDir(), MARKER);
}

export interface ToyRevision { name: string; step: number; tokensSeen: number; path: string }
export interface ToyManifest {
  name: string;
  revisions: ToyRevision[];
  /** Relative to toyModelDir(), e.g. "revisions/main". */
  main: string;
  instruct: { path: string; baseRevision: string; steps: number; tokensSeen: number };
  traits: string[];
  traitFiles: { extract: string; eval: string };
  lexicon: string;
  monitoringPrompts: string;
  heldOutQuestions: string;
  chatFormat: string;
  recommendedSampling: { temperature: number; topP: number; maxNewTokens: number };
}

export function readToyManifest(dir = toyModelDir()): ToyManifest {
  const p = path.join(dir, 'manifest.json');
  if (!existsSync(p)) throw new Error(`${p} is missing: the toy model has not been exported (run scripts/toy-model/regenerate.sh).`);
  return JSON.parse(readFileSync(p, 'utf8')) as ToyManifest;
}

/**
 * True for a checkpoint of the embedded toy world (models/toy-persona/…, models/toy-persona-instruct): such models
 * are judged by the offline rubric judge and sampled with the toy preset. One rule for the CLI and the extension.
 */
export function isToyModelPath(p: string): boolean {
  return path.resolve(p).split(path.sep).some((part) => part === 'toy-persona' || part === 'toy-persona-instruct');
}
