/**
 * What the Models view shows: a small, vscode-free scan of model folders. It recognises
 *   - an HF checkpoint folder (config.json),
 *   - a folder with a revision manifest (manifest.json, as the embedded toy model has) or a
 *     revisions/ folder (one checkpoint per pretraining step),
 *   - an HF cache repo folder (models--org--name with refs/),
 *   - a plain folder that holds several of the above (one level deep).
 * It only reads small JSON files; loading a model is the engine's job.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

export interface RevisionInfo {
  name: string;
  /** Folder of this revision's checkpoint, when the manifest or layout names one. */
  path?: string;
  description?: string;
}

export interface DiscoveredModel {
  kind: 'model';
  name: string;
  path: string;
  description: string;
  revisions: RevisionInfo[];
  /** The file a user most likely wants to look at (manifest.json or config.json). */
  detailsFile?: string;
}

export interface ModelGroupInfo { kind: 'group'; name: string; path: string; models: DiscoveredModel[] }
export interface MissingModelInfo { kind: 'missing'; name: string; path: string; reason: string }
export type ModelFolderInfo = DiscoveredModel | ModelGroupInfo | MissingModelInfo;

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

function describeConfig(config: unknown): string {
  if (!config || typeof config !== 'object') return 'checkpoint';
  const c = config as Record<string, unknown>;
  const arch = Array.isArray(c.architectures) && typeof c.architectures[0] === 'string' ? c.architectures[0] : c.model_type;
  const layers = typeof c.num_hidden_layers === 'number' ? `${c.num_hidden_layers} layers` : undefined;
  const hidden = typeof c.hidden_size === 'number' ? `d=${c.hidden_size}` : undefined;
  return [arch, layers, hidden].filter((x) => typeof x === 'string').join(', ') || 'checkpoint';
}

/** Accepts `revisions` as an array (strings or objects) or as an object keyed by revision name. */
function revisionsFromManifest(manifest: unknown, folder: string): RevisionInfo[] {
  if (!manifest || typeof manifest !== 'object') return [];
  const raw = (manifest as Record<string, unknown>).revisions;
  const entries: [string | undefined, unknown][] = Array.isArray(raw)
    ? raw.map((r) => [undefined, r])
    : raw && typeof raw === 'object' ? Object.entries(raw) : [];
  const out: RevisionInfo[] = [];
  for (const [key, value] of entries) {
    if (typeof value === 'string') { out.push({ name: value }); continue; }
    if (!value || typeof value !== 'object') continue;
    const v = value as Record<string, unknown>;
    const name = [v.name, v.revision, v.id, v.ref, key].find((x): x is string => typeof x === 'string');
    if (!name) continue;
    const facts: string[] = [];
    if (typeof v.step === 'number') facts.push(`step ${v.step}`);
    const tokens = v.tokens_seen ?? v.tokensSeen ?? v.tokens;
    if (typeof tokens === 'number') facts.push(`${tokens.toLocaleString('en-US')} tokens`);
    if (typeof v.description === 'string') facts.push(v.description);
    const rel = [v.path, v.folder, v.dir].find((x): x is string => typeof x === 'string');
    out.push({ name, path: rel ? path.resolve(folder, rel) : undefined, description: facts.join(', ') || undefined });
  }
  return out;
}

function subfolderRevisions(dir: string): RevisionInfo[] {
  if (!isDir(dir)) return [];
  return readdirSync(dir).filter((n) => isDir(path.join(dir, n))).sort()
    .map((n) => ({ name: n, path: path.join(dir, n) }));
}

/** One folder → a model, or undefined when it is not recognisable as one. */
export function inspectModelFolder(folder: string, name = path.basename(folder)): DiscoveredModel | undefined {
  const manifestFile = path.join(folder, 'manifest.json');
  const configFile = path.join(folder, 'config.json');
  const hasManifest = existsSync(manifestFile);
  const hasConfig = existsSync(configFile);
  let revisions = hasManifest ? revisionsFromManifest(readJson(manifestFile), folder) : [];
  if (revisions.length === 0) revisions = subfolderRevisions(path.join(folder, 'revisions'));
  if (revisions.length === 0 && isDir(path.join(folder, 'refs')) && isDir(path.join(folder, 'snapshots'))) {
    revisions = readdirSync(path.join(folder, 'refs')).sort().map((n) => ({ name: n, description: 'HF cache ref' }));
  }
  if (!hasConfig && !hasManifest && revisions.length === 0) return undefined;
  // Without a top-level config.json, describe the manifest's "main" checkpoint (or the last revision).
  const manifest = hasManifest ? readJson(manifestFile) as Record<string, unknown> | undefined : undefined;
  const mainDir = typeof manifest?.main === 'string' ? path.resolve(folder, manifest.main) : revisions.at(-1)?.path;
  const mainConfig = hasConfig ? configFile : mainDir ? path.join(mainDir, 'config.json') : undefined;
  const count = revisions.length > 0 ? `${revisions.length} revision${revisions.length === 1 ? '' : 's'}` : undefined;
  const arch = mainConfig && existsSync(mainConfig) ? describeConfig(readJson(mainConfig)) : undefined;
  const description = [arch, count].filter(Boolean).join(' · ') || 'model';
  return { kind: 'model', name, path: folder, description, revisions,
    detailsFile: hasManifest ? manifestFile : hasConfig ? configFile : undefined };
}

/** A configured path: a model itself, a folder of models, or an explanation of why it shows nothing. */
export function inspectModelPath(folder: string): ModelFolderInfo {
  const name = path.basename(folder) || folder;
  if (!existsSync(folder)) return { kind: 'missing', name, path: folder, reason: 'folder not found' };
  if (!isDir(folder)) return { kind: 'missing', name, path: folder, reason: 'not a folder' };
  const model = inspectModelFolder(folder, name);
  if (model) return model;
  const models = readdirSync(folder).sort().map((n) => path.join(folder, n)).filter(isDir)
    .map((p) => inspectModelFolder(p)).filter((m): m is DiscoveredModel => m !== undefined);
  if (models.length === 0) return { kind: 'missing', name, path: folder, reason: 'no config.json or manifest.json here or one level below' };
  return { kind: 'group', name, path: folder, models };
}
