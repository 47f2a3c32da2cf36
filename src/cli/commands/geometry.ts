/** persona-lab geometry: how a trait's vector moves across checkpoints (cosines to main and between neighbours, norms). */
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { EXIT, fmt, modelPath, num, printJson, required, str, workspace } from '../common.js';
import { defaultGeometryLayer, loadOptionsFor, normsDirFor } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { discoverVectors, loadRevisionVectors, readVectorMatrix } from '../../core/geometry/sources.js';
import { vectorTrajectory } from '../../core/geometry/trajectory.js';
import { writeTrajectoryCsvs } from '../../core/geometry/csv.js';
import { identifyModel } from '../../core/models.js';
import type { VectorKind } from '../../core/vectors/file.js';

export const geometryCommand: CliCommand = {
  name: 'geometry',
  summary: 'Vector geometry across checkpoints: cosine to main, between consecutive revisions, full matrix, norms',
  options: JOBS.geometry,
  usage: `persona-lab geometry --trait <name> [options]
  <root>/<revision>/<trait>.safetensors (a Persona Lab workspace's vectors/<model>) or <root>/<revision>/<trait>_<kind>_diff.pt
  (upstream pretraining_persona data/persona_vectors/<model>). Default root: <workspace>/vectors/<model> (--model, default the toy).
  --layer: row ℓ = hidden_states[ℓ] (default L/2, upstream's 16 for 32-layer models). --norms: a folder of upstream
  <revision>_{norms,shared_norms}.csv (default: <workspace>/norms/<model> when sweep or norms wrote it, the norms of the
  workspace the vectors are in, or upstream's results/<model>/activation_norms beside data/persona_vectors/<model>);
  norms are then also reported relative to the mean hidden-state norm at ℓ.
  Writes upstream-named CSVs (vector_cosine_sim/_sequential/_to_main_<trait>_layer<ℓ>.csv, vector_norms_…) to --out
  (default <workspace>/geometry/<model>).`,
  async run(ctx) {
    const trait = required(ctx, 'trait');
    const kind = required<VectorKind>(ctx, 'kind');
    const ws = workspace(ctx);
    const explicitRoot = str(ctx, 'vectors');
    // The model's workspace name (format-qualified like its vectors: toy-persona-int8); with --vectors and no --model it is unknown.
    const model = explicitRoot && !str(ctx, 'model') ? undefined : identifyModel(modelPath(ctx).path, undefined, loadOptionsFor(ctx.flags).weightFormat).name;
    const root = explicitRoot ? path.resolve(explicitRoot) : path.dirname(ws.vectorDir(model!, 'main'));
    const sources = discoverVectors(root, trait, kind);
    ctx.stderr(`geometry: ${sources.length} revisions of ${trait} under ${root}`);
    const layer = num(ctx, 'layer') ?? defaultGeometryLayer(readVectorMatrix(sources[sources.length - 1].file, kind).rows);
    // Norms: --norms, else the ones found for these vectors (core's normsDirFor: the workspace's norms/<model>, the root's
    // own workspace, upstream's results/<model>/activation_norms), as the editor's geometry panel finds them.
    const norms = str(ctx, 'norms') ? path.resolve(str(ctx, 'norms')!) : normsDirFor(root, { ws, model });
    if (norms && !str(ctx, 'norms')) ctx.stderr(`geometry: activation norms from ${norms}`);
    const t = vectorTrajectory(loadRevisionVectors(sources, layer, { kind, normsDir: norms }), layer);
    const out = path.resolve(str(ctx, 'out') ?? path.join(ws.root, 'geometry', path.basename(root)));
    const files = writeTrajectoryCsvs(out, trait, t);
    if (ctx.json) { printJson(ctx, { trait, root, ...t, files }); return EXIT.ok; }
    ctx.stdout(`${trait}, layer ${layer} (row = hidden_states[${layer}]), reference ${t.main}`);
    ctx.stdout(`${'revision'.padEnd(24)} ${'cos→main'.padStart(8)} ${'cos→prev'.padStart(8)} ${'‖v‖'.padStart(9)} ${'‖v‖/mean'.padStart(9)}`);
    const toMain = new Map(t.toMain.map((x) => [x.revision, x.cosine]));
    for (const [i, r] of t.revisions.entries()) {
      const n = t.norms[i];
      const prev = i > 0 ? t.sequential[i - 1].cosine : null;
      ctx.stdout(`${r.padEnd(24)} ${fmt(r === t.main ? 1 : toMain.get(r), 3).padStart(8)} ${fmt(prev, 3).padStart(8)} ${fmt(n.norm, 3).padStart(9)} ${fmt(n.ratio, 3).padStart(9)}`);
    }
    ctx.stdout(`wrote ${files.length} CSV files to ${out}`);
    return EXIT.ok;
  },
};
