/**
 * Geometry panel (webview/geometry): "Show Vector Geometry" on a vectors folder — a workspace's vectors/<model>
 * or an upstream data/persona_vectors/<model> of .pt files — for one trait at one layer: revision × revision and
 * trait × trait cosine heat-maps, a 2-D MDS of the unit vectors, norms per layer and per revision (raw and ÷ the
 * calibrated activation norm), and the cosine to main and between consecutive revisions in training order.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseRendered, type GeometryView, type Rendered, type ToWebview } from '../../../webview/geometry/protocol.js';
import { readVectorMatrix, discoverVectors } from '../../core/geometry/sources.js';
import type { Locations } from '../locations.js';
import { showPanel, type PanelServices } from '../webview/panel.js';
import { defaultGeometryLayer } from '../../core/jobs/defaults.js';
import { Workspace } from '../../core/storage/workspace.js';
import { loadGeometryView, traitsIn } from './geometryData.js';

export const GEOMETRY_VIEW_TYPE = 'personaLab.geometry';
export interface GeometryArgs { root?: string; trait?: string; layer?: number; kind?: 'prompt_avg' | 'response_avg' | 'prompt_last' }

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** A vectors root from a tree item or path: a model folder (<root>), a revision folder or a vector file inside one. */
function rootOf(p: string): { root: string; trait?: string } {
  if (!isDir(p)) {
    const trait = path.basename(p).replace(/\.safetensors$/, '').replace(/_(prompt_avg|response_avg|prompt_last)_diff\.pt$/, '');
    return { root: path.dirname(path.dirname(p)), trait };
  }
  const subdirs = readdirSync(p).filter((d) => isDir(path.join(p, d)));
  return subdirs.length === 0 ? { root: path.dirname(p) } : { root: p };
}

export async function openGeometry(s: PanelServices & { locations: Locations }, arg?: GeometryArgs | string | { entry?: { path: string } }, adopt?: vscode.WebviewPanel): Promise<Rendered | undefined> {
  let a: GeometryArgs = typeof arg === 'string' ? (arg.trim().startsWith('{') ? JSON.parse(arg) as GeometryArgs : { root: arg })
    : arg && 'entry' in arg && arg.entry ? rootOf(arg.entry.path) : (arg as GeometryArgs | undefined) ?? {};
  if (a.root && !isDir(a.root)) a = { ...a, ...rootOf(a.root) };
  if (!a.root) {
    const vectors = s.locations.workspaceSubfolder('vectors');
    const models = vectors && isDir(vectors) ? readdirSync(vectors).filter((d) => isDir(path.join(vectors, d))) : [];
    const browse = 'Browse for a vectors folder…';
    const pick = await vscode.window.showQuickPick([...models.map((m) => ({ label: m, description: 'workspace vectors', root: path.join(vectors!, m) })),
      { label: browse, description: '<root>/<revision>/<trait>.safetensors or <trait>_<kind>_diff.pt', root: '' }], { title: 'Show Vector Geometry: which vectors?' });
    if (!pick) return undefined;
    let root = pick.root;
    if (!root) {
      const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Show Geometry', title: 'A folder of revision folders holding vector files' });
      if (!picked?.[0]) return undefined;
      root = picked[0].fsPath;
    }
    a = { ...a, root };
  }
  const root = a.root!;
  if (!a.trait) {
    const traits = traitsIn(root);
    if (traits.length === 0) throw new Error(`no vector files under ${root}: expected <root>/<revision>/<trait>.safetensors or <trait>_<kind>_diff.pt`);
    const trait = traits.length === 1 ? traits[0] : await vscode.window.showQuickPick(traits, { title: 'Show Vector Geometry: which trait?' });
    if (!trait) return undefined;
    const rows = readVectorMatrix(discoverVectors(root, trait, a.kind).at(-1)!.file, a.kind).rows;
    const dflt = defaultGeometryLayer(rows);
    const layer = arg === undefined ? await vscode.window.showInputBox({ title: 'Show Vector Geometry: layer', prompt: `row ℓ = hidden_states[ℓ], 0..${rows - 1}`, value: String(dflt),
      validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) < rows ? undefined : `a whole number in 0..${rows - 1}`) }) : String(dflt);
    if (layer === undefined) return undefined;
    a = { ...a, trait, layer: Number(layer) };
  }
  const args = { root, trait: a.trait!, layer: a.layer, kind: a.kind };
  const { rendered } = showPanel<GeometryView, Rendered>(s, {
    viewType: GEOMETRY_VIEW_TYPE, bundle: 'geometry', title: `Geometry: ${args.trait}`, source: JSON.stringify(args),
    load: () => { const data = s.locations.workspaceDataFolder(); return loadGeometryView(root, args.trait, { layer: args.layer, kind: args.kind, ws: data ? new Workspace(data) : undefined }); },
    message: (v, update): ToWebview => ({ type: 'geometry', view: v, update }),
    parseRendered,
    describe: (r) => `${r.maps} heat-maps, ${r.charts} charts, ${r.points} points`,
  }, adopt);
  return rendered;
}
