/**
 * Messages every panel shares (both ends import this module): the webview's 'ready' and 'error', and a chart export.
 * A panel's own protocol (webview/<panel>/protocol.ts) adds its messages and a guard that parses each one arriving
 * from the webview: messages from a webview are untrusted input and are never used before they are checked.
 */
export interface ReadyMessage { type: 'ready' }
export interface ErrorMessage { type: 'error'; message: string }
/** PNG (a data: URL from the canvas) or the CSV behind a chart. */
export interface ExportMessage { type: 'export'; format: 'png' | 'csv'; name: string; data: string }

export type KitMessage = ReadyMessage | ErrorMessage | ExportMessage;

export const isRecord = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null && !Array.isArray(m);
const MAX_EXPORT = 64 * 1024 * 1024;

export function parseExport(m: unknown): ExportMessage | undefined {
  if (!isRecord(m) || m.type !== 'export') return undefined;
  if ((m.format !== 'png' && m.format !== 'csv') || typeof m.name !== 'string' || typeof m.data !== 'string' || m.data.length > MAX_EXPORT) return undefined;
  if (m.format === 'png' && !m.data.startsWith('data:image/png;base64,')) return undefined;
  return { type: 'export', format: m.format, name: m.name, data: m.data };
}

/** The shared messages, parsed; undefined for anything else (a panel's own messages or garbage). */
export function parseKitMessage(m: unknown): KitMessage | undefined {
  if (!isRecord(m)) return undefined;
  if (m.type === 'ready') return { type: 'ready' };
  if (m.type === 'error') return { type: 'error', message: typeof m.message === 'string' ? m.message.slice(0, 2000) : 'unknown error' };
  return parseExport(m);
}

/** A finite number or undefined (for counts in 'rendered' messages). */
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
