/**
 * The browser half of the webview kit: the VS Code API (typed messages, state kept across reloads), a DOM helper,
 * number formatting. Every panel's main.ts imports this module and './kit.css' (esbuild emits the stylesheet next
 * to the bundle; the host links it: no inline styles under the panels' CSP).
 */
import './kit.css';
import type { KitMessage } from './protocol.js';

interface VsCodeApi<S> { postMessage(m: unknown): void; getState(): S | undefined; setState(s: S): void }
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

let api: VsCodeApi<unknown> | undefined;
/** The VS Code API, acquired once per page. `Out` is the panel's webview → extension message type. */
export function host<Out, S = unknown>(): { post(m: Out | KitMessage): void; state(): S | undefined; save(s: S): void } {
  api ??= acquireVsCodeApi<unknown>();
  const a = api as VsCodeApi<S>;
  return { post: (m) => a.postMessage(m), state: () => a.getState(), save: (s) => a.setState(s) };
}

/** Listens for the extension's messages (only from the extension: a webview receives nothing else). */
export function onMessage<In>(handler: (m: In) => void): void {
  window.addEventListener('message', (e: MessageEvent<In>) => {
    try { handler(e.data); } catch (err) { host().post({ type: 'error', message: String((err as Error)?.message ?? err) }); }
  });
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    if (k === 'class') e.className = String(v);
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'for' || k === 'title' || k === 'role') e.setAttribute(k, String(v));
    else (e as unknown as Record<string, unknown>)[k] = v;
  }
  e.append(...children);
  return e;
}

/** A number for display: '–' when missing. */
export const fmt = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

/** A p-value for display: 3 significant digits, scientific below 0.001, '–' when missing, '1' for 1. */
export function fmtP(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '–';
  if (p >= 1) return '1';
  if (p < 1e-3) return p.toExponential(1).replace('e-', '×10⁻').replace(/\d+$/, (d) => [...d].map((c) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[Number(c)]).join(''));
  return p.toPrecision(2);
}

/** Rows → CSV text (RFC 4180 quoting). */
export function toCsv(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cell = (v: string | number | null | undefined) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

export function errorBox(message: string): HTMLElement {
  return el('div', { class: 'error', role: 'alert' }, message);
}
