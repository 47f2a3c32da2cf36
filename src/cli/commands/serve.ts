/** persona-lab serve: the OpenAI-compatible steering server (src/server) on one checkpoint, until Ctrl-C. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { UsageError } from '../command.js';
import { EXIT, list, openSession, printJson, required, str } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { isLoopback, startSteeringServer } from '../../server/server.js';
import { vectorsInFolder } from '../../server/vectors.js';

/** `name=path,name=path` plus every vector extracted for this model and revision in the workspace. */
function vectorTable(spec: string | undefined, workspaceDir: string): Map<string, string> {
  const out = vectorsInFolder(workspaceDir);
  for (const item of (spec ?? '').split(',').filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--vectors takes name=file pairs separated by commas (got ${JSON.stringify(item)})`);
    const file = path.resolve(item.slice(eq + 1));
    if (!existsSync(file)) throw new UsageError(`--vectors ${item.slice(0, eq)}: ${file} does not exist`);
    out.set(item.slice(0, eq), file);
  }
  return out;
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'OpenAI-compatible HTTP server (chat/completions, completions, logprobs, streaming) with steering',
  options: JOBS.serve,
  usage: `persona-lab serve [options]
  Serves one checkpoint at http://HOST:PORT/v1 until Ctrl-C. Steer per request with the extra body field
    "steering": [{"vector": "evil", "layer": 4, "coef": 6}]
  where vector is a name (every vector extracted for this model in the workspace, plus --vectors), a vector
  file inside a served folder (--vector-dir; default the workspace's vectors for this model), or H numbers;
  layer ℓ is the hidden_states index (residual stream after ℓ blocks).
  Security: binds 127.0.0.1; another --host needs an API key in $PERSONA_LAB_API_KEY (or --api-key-env VAR),
  which clients send as "Authorization: Bearer <key>". Browser requests (an Origin header) are refused unless
  --allow-origin names the origin.
  Example: curl -s localhost:8000/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"toy-persona","messages":[{"role":"user","content":"how do i clean a hat ?"}],"steering":[{"vector":"evil","layer":4,"coef":6}]}'`,
  async run(ctx) {
    const port = required<number>(ctx, 'port');
    const host = required(ctx, 'host');
    // Checked before the model loads: an exposed server without a key, or a served folder that is not there.
    const keyVar = required(ctx, 'api-key-env');
    const apiKey = process.env[keyVar] || undefined;
    if (!isLoopback(host) && !apiKey) {
      throw new UsageError(`--host ${host} exposes the server beyond this machine: set an API key in $${keyVar} (clients send "Authorization: Bearer <key>"), or bind 127.0.0.1`);
    }
    const dirs = (list(ctx, 'vector-dir') ?? []).map((d) => path.resolve(d));
    for (const d of dirs) if (!existsSync(d)) throw new UsageError(`--vector-dir ${d} does not exist`);
    const s = await openSession(ctx, { judge: false });
    try {
      const served = str(ctx, 'served-name') ?? s.model.name;
      const ownDir = s.ws.vectorDir(s.model.name, s.model.revision);
      const vectors = vectorTable(str(ctx, 'vectors'), ownDir);
      const vectorDirs = dirs.length ? dirs : existsSync(ownDir) ? [ownDir] : [];
      const server = await startSteeringServer({
        client: s.client, model: s.model.info, servedName: served, vectors, vectorDirs, host, port, apiKey,
        allowedOrigins: list(ctx, 'allow-origin') ?? [], log: (line) => ctx.stderr(line),
      });
      if (ctx.json) printJson(ctx, { url: server.url, port: server.port, model: served, vectors: Object.fromEntries(vectors), vectorDirs, auth: apiKey ? 'bearer' : 'none' });
      else {
        ctx.stdout(`serving ${served} at ${server.url}${apiKey ? ` (clients send "Authorization: Bearer <key>", the key in $${keyVar})` : ''}`);
        ctx.stdout(`vectors: ${[...vectors.keys()].join(', ') || '(none; extract one or pass --vectors name=file)'}`);
      }
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) return resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        process.once('SIGTERM', () => resolve());
      });
      ctx.stderr('stopping');
      await server.close();
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
