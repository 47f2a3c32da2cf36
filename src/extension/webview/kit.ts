/**
 * The host half of the webview kit (the browser half is webview/kit/): every Persona Lab panel gets its options,
 * its HTML shell and its chart exports from here, so the security policy and the resource roots live in one place.
 *
 * - Resources: `localResourceRoots` is `dist/` only; the page loads `dist/webview/<bundle>.js` (by nonce) and
 *   `dist/webview/<bundle>.css` (esbuild emits it from the bundle's CSS imports, the kit's stylesheet included).
 * - CSP: `default-src 'none'`; scripts by nonce only; styles only from the extension (`webview.cspSource`), no
 *   `'unsafe-inline'`; images from the extension and `data:` (chart exports). Nothing can be fetched.
 * - Messages from a webview are untrusted: every panel parses them with its protocol module's guard before use.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseExport, type ExportMessage } from '../../../webview/kit/protocol.js';

/** Options for createWebviewPanel (and for a restored panel: `panel.webview.options = webviewOptions(...)`). */
export function webviewOptions(extensionUri: vscode.Uri, retainContextWhenHidden = false): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, retainContextWhenHidden, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist')] };
}

/** The Content-Security-Policy of every panel (exported for the tests). */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return `default-src 'none'; img-src ${cspSource} data:; font-src ${cspSource}; style-src ${cspSource}; script-src 'nonce-${nonce}';`;
}

/** The page shell of a panel: the stylesheet and the script of `dist/webview/<bundle>.*`, a root element. */
export function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, bundle: string, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const dist = (file: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', file));
  const css = existsSync(path.join(extensionUri.fsPath, 'dist', 'webview', `${bundle}.css`)) ? `<link rel="stylesheet" href="${dist(`${bundle}.css`)}">` : '';
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(webview.cspSource, nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(title)}</title>${css}
</head><body><div id="root">Loading…</div><script type="module" nonce="${nonce}" src="${dist(`${bundle}.js`)}"></script></body></html>`;
}

/**
 * Saves a chart export the webview sent (PNG as a data: URL, or the CSV behind the chart): asks where, writes it.
 * Returns the file written, undefined when the message is not an export or the user cancelled.
 */
export async function saveExport(message: unknown, log: vscode.LogOutputChannel, defaultDir?: string): Promise<string | undefined> {
  const m: ExportMessage | undefined = parseExport(message);
  if (!m) return undefined;
  const safe = m.name.replace(/[^\w.+-]+/g, '_').slice(0, 100) || 'chart';
  const ext = m.format === 'png' ? 'png' : 'csv';
  const base = defaultDir ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const target = await vscode.window.showSaveDialog({
    title: `Export ${m.format.toUpperCase()}`, filters: m.format === 'png' ? { 'PNG image': ['png'] } : { CSV: ['csv'] },
    ...(base ? { defaultUri: vscode.Uri.file(path.join(base, `${safe}.${ext}`)) } : {}),
  });
  if (!target) return undefined;
  const bytes = m.format === 'png' ? Buffer.from(m.data.replace(/^data:image\/png;base64,/, ''), 'base64') : Buffer.from(m.data, 'utf8');
  writeFileSync(target.fsPath, bytes);
  log.info(`Exported ${m.format.toUpperCase()} ${target.fsPath}`);
  return target.fsPath;
}

/** A panel's `rendered` wait: resolves with what the webview reported drawing, rejects on its error or a timeout. */
export function untilRendered<T>(subscribe: (listener: (m: unknown) => void) => vscode.Disposable, parse: (m: unknown) => { ok: T } | { error: string } | undefined, what: string, ms = 60_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { sub.dispose(); reject(new Error(`${what} did not render within ${ms / 1000} s (see the webview developer tools)`)); }, ms);
    const sub = subscribe((m) => {
      const r = parse(m);
      if (!r) return;
      clearTimeout(timer);
      sub.dispose();
      if ('ok' in r) resolve(r.ok); else reject(new Error(`${what}: ${r.error}`));
    });
  });
}
