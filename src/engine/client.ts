/**
 * InferenceClient: starts the inference worker as a child process and speaks the typed protocol
 * (src/engine/protocol.ts) to it over vscode-jsonrpc on the Node IPC channel. Used by the extension,
 * the CLI and the tests; nothing here blocks on inference.
 *
 * Worker resolution: opts.workerPath → env PERSONA_LAB_WORKER → dist/worker.js next to the calling bundle →
 * src/engine/worker/main.ts through tsx (running from source). `.ts` workers get `--import tsx`.
 *
 * Failure contract: a typed engine error thrown in the worker (CheckpointError, CompileError, ConfigError,
 * SafetensorsError, TokenizerError, SteerSpecError, ForwardError) travels as `{name, reason, message}` in the
 * JSON-RPC error data and is rebuilt here as the same class with the same reason; every other failure
 * rejects with WorkerError, whose reason is the protocol's ('bad-request', 'model-not-loaded', 'oom', …).
 * `workerReason(e)` gives the protocol reason of either kind (a SteerSpecError counts as 'bad-request').
 * If the worker dies, every in-flight request rejects with reason 'died' and the client is unusable; start
 * a new one. An AbortSignal sends $/cancelRequest; the worker stops at its next forward step, frees the rows
 * and the call rejects with reason 'cancelled' (streamed tokens were already delivered through onToken).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CancellationTokenSource, ResponseError, type MessageConnection } from 'vscode-jsonrpc';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import {
  ApplyChatTemplateRequest, CaptureRequest, DetokenizeRequest, GenerateRequest, ListModelsRequest, LoadModelRequest,
  ProjectRequest, ShutdownRequest, TokenNotification, TokenizeRequest, UnloadModelRequest, WorkerErrorCodes,
  type CaptureParams, type CaptureResult, type ChatMessage, type GenerateParams, type GenerateResult, type LoadModelParams,
  type ModelInfo, type ProjectParams, type ProjectResult, type TokenNotificationParams, type TokenizeParams, type TokenizeResult,
} from './protocol.js';

import { ReasonError, isErrorData } from './errors.js';
import { withHugePageMalloc } from './model/malloc-tunables.js';
import { WIRE_ERRORS, workerErrorReason, type WorkerErrorReason } from './worker/errors.js';

export { decodeF32, encodeF32 } from './protocol.js';

export type { WorkerErrorReason };

/** A failure of the worker protocol itself, or any worker failure that is not a typed engine error. */
export class WorkerError extends ReasonError<WorkerErrorReason> {
  override readonly name = 'WorkerError';
  constructor(readonly code: number, message: string, reason?: WorkerErrorReason) {
    super(reason ?? workerErrorReason(code), message);
  }
}

/** The protocol reason each rebuilt typed error arrived with (its JSON-RPC error code). */
const arrivedAs = new WeakMap<Error, WorkerErrorReason>();

/** The protocol reason of a client-side failure: a WorkerError's own, or the one a rebuilt typed error arrived with. */
export function workerReason(e: unknown): WorkerErrorReason | undefined {
  if (e instanceof WorkerError) return e.reason;
  return e instanceof Error ? arrivedAs.get(e) : undefined;
}

/** A JSON-RPC error from the worker → the typed error it was there (by `data.name`), else a WorkerError. */
export function fromResponseError(e: ResponseError<unknown>): Error {
  const data = e.data;
  const wire = isErrorData(data) && data.reason !== undefined && Object.hasOwn(WIRE_ERRORS, data.name) ? WIRE_ERRORS[data.name] : undefined;
  if (!wire || !isErrorData(data)) return new WorkerError(e.code, e.message);
  const err = wire.rebuild(data.reason!, data.message);
  arrivedAs.set(err, workerErrorReason(e.code));
  return err;
}

export interface StartOptions {
  workerPath?: string;
  threads?: number;
  env?: Record<string, string>;
  log?: (level: string, msg: string) => void;
}

/** This module's own file, whether it runs from source (ESM) or inside a CommonJS bundle. */
function thisFile(): string {
  if (typeof __filename === 'string') return __filename;
  return fileURLToPath(import.meta.url);
}

/** Resolves the worker entry point (see the module comment for the order). */
export function resolveWorkerPath(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.PERSONA_LAB_WORKER) return path.resolve(process.env.PERSONA_LAB_WORKER);
  const here = path.dirname(thisFile());
  const bundled = path.join(here, 'worker.js');
  if (existsSync(bundled)) return bundled;
  const candidates = [path.join(here, 'worker', 'main.ts'), path.join(here, '..', 'src', 'engine', 'worker', 'main.ts')];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new WorkerError(WorkerErrorCodes.Internal, `cannot find the inference worker: looked for ${[bundled, ...candidates].join(', ')}. Run \`npm run build\` or set PERSONA_LAB_WORKER.`, 'internal');
}

function tsxLoader(from: string): string {
  try {
    return import.meta.resolve('tsx', pathToFileURL(from).href);
  } catch {
    return 'tsx';
  }
}

/** The inference worker's environment: the caller's, plus what every worker needs. */
export function workerEnvironment(base: NodeJS.ProcessEnv, opts: Pick<StartOptions, 'env' | 'threads'> = {}): Record<string, string | undefined> {
  // ORT_DISABLE_TELEMETRY=1: onnxruntime ≥ 1.29's official Linux/macOS builds otherwise start a 1DS telemetry uploader
  // and keep a device id and an event cache under ~/.cache/Microsoft/DeveloperTools/.onnxruntime (README, Security).
  const env: Record<string, string | undefined> = { ...base, ...opts.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ORT_DISABLE_TELEMETRY: '1' };
  // Huge-page-backed malloc: a warm 1 B f32 load 14.9 → 5.7 s CPU, same output bytes (model/malloc-tunables.ts).
  env.GLIBC_TUNABLES = withHugePageMalloc(env.GLIBC_TUNABLES);
  if (opts.threads) env.PERSONA_LAB_THREADS = String(opts.threads);
  // Inside VS Code process.execPath is Electron: make it behave as plain Node.
  if (process.versions.electron) env.ELECTRON_RUN_AS_NODE = '1';
  return env;
}

export class InferenceClient {
  private exited: { code: number | null; signal: string | null } | null = null;
  private readonly exitCallbacks: ((info: { code: number | null; signal: string | null }) => void)[] = [];
  private readonly pending = new Set<(e: WorkerError) => void>();
  private readonly streams = new Map<string, (n: TokenNotificationParams) => void>();
  private streamCounter = 0;

  private constructor(private readonly child: ChildProcess, private readonly conn: MessageConnection, private readonly log: (level: string, msg: string) => void) {
    child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      const err = new WorkerError(WorkerErrorCodes.WorkerDied,
        `the inference worker (pid ${child.pid}) exited ${signal ? `on signal ${signal}` : `with code ${code}`} while requests were in flight; start a new InferenceClient`, 'died');
      for (const reject of [...this.pending]) reject(err);
      this.pending.clear();
      conn.dispose();
      for (const cb of this.exitCallbacks) cb(this.exited);
    });
    conn.onNotification(TokenNotification, (n) => this.streams.get(n.requestId)?.(n));
  }

  static async start(opts: StartOptions = {}): Promise<InferenceClient> {
    const workerPath = resolveWorkerPath(opts.workerPath);
    const log = opts.log ?? (() => {});
    const execArgv = workerPath.endsWith('.ts') ? ['--import', tsxLoader(workerPath)] : [];
    const env = workerEnvironment(process.env, opts);
    const child = spawn(process.execPath, [...execArgv, workerPath], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env, windowsHide: true });
    // Worker lines look like "[worker <pid>] <level>: message"; anything else (native libraries) is 'info'.
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const m = /^\[worker \d+\] (info|warn|error): /.exec(line);
        log(m ? m[1] : 'info', line);
      }
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(new WorkerError(WorkerErrorCodes.WorkerDied, `cannot start the inference worker (${workerPath}): ${e.message}`, 'died')));
    });
    const conn = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    conn.onError(([e]) => log('error', `worker connection: ${e.message}`));
    conn.listen();
    const client = new InferenceClient(child, conn, log);
    // A first round-trip proves the worker is up (and surfaces a crash at startup as a clean error).
    await client.listModels();
    return client;
  }

  get pid(): number { return this.child.pid ?? -1; }

  onExit(cb: (info: { code: number | null; signal: string | null }) => void): void {
    if (this.exited) cb(this.exited);
    else this.exitCallbacks.push(cb);
  }

  /** Sends one request; maps errors to WorkerError and rejects with 'died' if the worker goes away. */
  private request<P, R>(type: { method: string }, params: P, signal?: AbortSignal): Promise<R> {
    if (this.exited) return Promise.reject(new WorkerError(WorkerErrorCodes.WorkerDied, 'the inference worker has exited; start a new InferenceClient', 'died'));
    if (signal?.aborted) return Promise.reject(new WorkerError(WorkerErrorCodes.Cancelled, 'request cancelled before it was sent', 'cancelled'));
    return new Promise<R>((resolve, reject) => {
      const cts = new CancellationTokenSource();
      const onAbort = () => cts.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      const fail = (e: WorkerError) => { cleanup(); reject(e); };
      const cleanup = () => {
        this.pending.delete(fail);
        signal?.removeEventListener('abort', onAbort);
        cts.dispose();
      };
      this.pending.add(fail);
      (this.conn.sendRequest as (t: unknown, p: unknown, tok: unknown) => Promise<R>)(type, params, cts.token).then(
        (r) => { cleanup(); resolve(r); },
        (e: unknown) => {
          if (!this.pending.has(fail)) return; // already rejected as 'died'
          cleanup();
          if (e instanceof ResponseError) reject(fromResponseError(e));
          else reject(new WorkerError(WorkerErrorCodes.Internal, (e as Error)?.message ?? String(e), this.exited ? 'died' : 'internal'));
        },
      );
    });
  }

  loadModel(p: LoadModelParams): Promise<ModelInfo> { return this.request(LoadModelRequest, p); }
  async unloadModel(modelId: string): Promise<void> { await this.request(UnloadModelRequest, { modelId }); }
  listModels(): Promise<ModelInfo[]> { return this.request(ListModelsRequest, undefined); }

  async generate(p: GenerateParams, opts: { signal?: AbortSignal; onToken?: (n: TokenNotificationParams) => void } = {}): Promise<GenerateResult> {
    if (!opts.onToken) return this.request(GenerateRequest, p, opts.signal);
    const requestId = p.requestId ?? `gen-${process.pid}-${++this.streamCounter}`;
    this.streams.set(requestId, opts.onToken);
    try {
      return await this.request(GenerateRequest, { ...p, stream: true, requestId }, opts.signal);
    } finally {
      this.streams.delete(requestId);
    }
  }

  capture(p: CaptureParams, opts: { signal?: AbortSignal } = {}): Promise<CaptureResult> { return this.request(CaptureRequest, p, opts.signal); }
  project(p: ProjectParams, opts: { signal?: AbortSignal } = {}): Promise<ProjectResult> { return this.request(ProjectRequest, p, opts.signal); }
  tokenize(p: TokenizeParams): Promise<TokenizeResult> { return this.request(TokenizeRequest, p); }
  detokenize(modelId: string, ids: number[], skipSpecialTokens?: boolean): Promise<string> {
    return this.request(DetokenizeRequest, { modelId, ids, skipSpecialTokens });
  }
  applyChatTemplate(modelId: string, messages: ChatMessage[], addGenerationPrompt?: boolean): Promise<string> {
    return this.request(ApplyChatTemplateRequest, { modelId, messages, addGenerationPrompt });
  }

  /** Graceful shutdown (the worker disposes its sessions), then kill after a grace period. */
  async dispose(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.onExit(() => resolve()));
    let grace: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.request(ShutdownRequest, undefined), new Promise((r) => { grace = setTimeout(r, graceMs); })]);
    } catch (e) {
      if (!WorkerError.is(e, 'died')) this.log('warn', `worker shutdown request failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(grace);
    }
    const timer = setTimeout(() => { if (!this.exited) this.child.kill('SIGKILL'); }, graceMs);
    await exited;
    clearTimeout(timer);
  }
}
