/**
 * Inference worker process entry (bundled as dist/worker.js; from source: node --import tsx
 * src/engine/worker/main.ts). onnxruntime-node's session.run blocks the JS thread, so inference lives
 * here, never in the extension host or CLI process. Transport: vscode-jsonrpc over the Node IPC channel
 * when the parent forked us with one (what InferenceClient does), else over stdin/stdout.
 * stdout is reserved for the protocol in stdio mode, so console output is redirected to stderr, which the
 * client forwards to its log callback.
 */
import {
  createMessageConnection, IPCMessageReader, IPCMessageWriter, StreamMessageReader, StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  ApplyChatTemplateRequest, CaptureRequest, DetokenizeRequest, GenerateRequest, ListModelsRequest, LoadModelRequest,
  ProjectRequest, ShutdownRequest, TokenNotification, TokenizeRequest, UnloadModelRequest, WorkerErrorCodes,
} from '../protocol.js';
import { createVectorFileReader } from '../steering/vector-file.js';
import { toResponseError } from './errors.js';
import { Handlers } from './handlers.js';
import { ModelRegistry } from './registry.js';

/** One line per message on stderr; the client maps the `level:` tag to its log callback's level. */
const log = (msg: string, level: 'info' | 'warn' | 'error' = 'info') => process.stderr.write(`[worker ${process.pid}] ${level}: ${msg}\n`);
console.log = (...a: unknown[]) => log(a.map(String).join(' '));
console.info = console.log;
console.warn = (...a: unknown[]) => log(a.map(String).join(' '), 'warn');
console.error = (...a: unknown[]) => log(a.map(String).join(' '), 'error');

const useIpc = typeof process.send === 'function';
const connection: MessageConnection = useIpc
  ? createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process))
  : createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));

const envThreads = Number(process.env.PERSONA_LAB_THREADS);
const registry = new ModelRegistry(Number.isInteger(envThreads) && envThreads > 0 ? envThreads : undefined);
const handlers = new Handlers(registry, createVectorFileReader());

/** Every handler failure becomes a protocol error; nothing a request does can crash the worker. */
const guard = <R>(f: () => R | Promise<R>): Promise<R> =>
  (async () => {
    try {
      return await f();
    } catch (e) {
      const re = toResponseError(e);
      if (re.code !== WorkerErrorCodes.Cancelled) log(`request failed (${re.code}): ${re.message}`, 'warn');
      throw re;
    }
  })();

connection.onRequest(LoadModelRequest, (p) => guard(() => registry.load(p)));
connection.onRequest(UnloadModelRequest, (p) => guard(() => registry.unload(p.modelId)));
connection.onRequest(ListModelsRequest, () => guard(() => registry.list()));
connection.onRequest(TokenizeRequest, (p) => guard(() => handlers.tokenize(p)));
connection.onRequest(DetokenizeRequest, (p) => guard(() => handlers.detokenize(p)));
connection.onRequest(ApplyChatTemplateRequest, (p) => guard(() => handlers.applyChatTemplate(p)));
connection.onRequest(GenerateRequest, (p, token) => guard(() => handlers.generate(p, token, (n) => void connection.sendNotification(TokenNotification, n))));
connection.onRequest(CaptureRequest, (p, token) => guard(() => handlers.capture(p, token)));
connection.onRequest(ProjectRequest, (p, token) => guard(() => handlers.project(p, token)));

let exiting = false;
async function shutdown(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  try {
    await registry.disposeAll();
  } catch (e) {
    log(`error while disposing models: ${(e as Error).message}`, 'error');
  }
  // Let the shutdown response reach the client before the channel closes.
  setTimeout(() => process.exit(code), 20);
}

connection.onRequest(ShutdownRequest, () => guard(async () => { void shutdown(0); }));
connection.onClose(() => void shutdown(0));
if (useIpc) process.on('disconnect', () => void shutdown(0));
process.on('uncaughtException', (e) => {
  log(`fatal: ${e.stack ?? e.message}`, 'error');
  process.exit(70);
});
process.on('unhandledRejection', (e) => log(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`, 'error'));

connection.listen();
log(`ready (${useIpc ? 'ipc' : 'stdio'}, node ${process.version})`);
