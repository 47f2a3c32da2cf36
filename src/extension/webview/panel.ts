/**
 * One way to show a kit panel (src/extension/panels/*): create or adopt (after a window reload) the webview panel,
 * serve the kit's HTML, post the panel's data when the webview says 'ready', save chart exports, refresh the data
 * when watched files change (debounced; the webview redraws in place), and resolve with what the webview reported
 * drawing. Panels differ only in their data loader and their protocol; the serializer that reopens them after a
 * reload is registered once per view type (registerPanelSerializers in ../panels/index.ts).
 */
import * as vscode from 'vscode';
import { isRecord, parseKitMessage } from '../../../webview/kit/protocol.js';
import { panelHtml, saveExport, webviewOptions } from './kit.js';

export interface PanelServices { log: vscode.LogOutputChannel; extensionUri: vscode.Uri }

export interface PanelSpec<Data, Rendered> {
  viewType: string;
  /** dist/webview/<bundle>.js and .css */
  bundle: string;
  title: string;
  /** What the panel shows; `source` goes into the webview state so a reload reopens the same thing. */
  source: string;
  /** Loads the data (again on every watched change). Throws with a clear message for bad input. */
  load(): Data;
  /** The message that carries the data to the webview. */
  message(data: Data, update: boolean): unknown;
  /** The webview's 'rendered' message, parsed (undefined for anything else). */
  parseRendered(m: unknown): Rendered | undefined;
  /** Describes a render for the log (logged once per open, not on every tab focus). */
  describe(r: Rendered): string;
  /** Reload and repost when files matching these change (e.g. a run folder while its job runs). */
  watch?: vscode.GlobPattern[];
  /** The panel's own messages (after the kit's: ready/error/export/rendered). */
  onMessage?(m: Record<string, unknown>, panel: vscode.WebviewPanel): void;
  /** Folder proposed for exports. */
  exportDir?: string;
}

export interface ShownPanel<Rendered> { panel: vscode.WebviewPanel; rendered: Promise<Rendered> }

/** Shows a kit panel; `adopt` is a panel VS Code restored after a reload (from the serializer). */
export function showPanel<Data, Rendered>(s: PanelServices, spec: PanelSpec<Data, Rendered>, adopt?: vscode.WebviewPanel): ShownPanel<Rendered> {
  const data = spec.load(); // bad input fails before a tab opens
  const panel = adopt ?? vscode.window.createWebviewPanel(spec.viewType, spec.title, vscode.ViewColumn.Active, webviewOptions(s.extensionUri));
  if (adopt) panel.webview.options = webviewOptions(s.extensionUri);
  panel.title = spec.title;
  panel.iconPath = vscode.Uri.joinPath(s.extensionUri, 'media', 'persona-lab.svg');
  panel.webview.html = panelHtml(panel.webview, s.extensionUri, spec.bundle, spec.title);
  const subs: vscode.Disposable[] = [];
  let current = data;
  let firstRender = true;
  let resolveRendered!: (r: Rendered) => void, rejectRendered!: (e: Error) => void;
  const rendered = new Promise<Rendered>((res, rej) => { resolveRendered = res; rejectRendered = rej; });
  rendered.catch(() => undefined); // a caller that does not wait must not see an unhandled rejection
  const timer = setTimeout(() => rejectRendered(new Error(`${spec.title} did not render within 60 s (see the webview developer tools)`)), 60_000);
  subs.push(panel.webview.onDidReceiveMessage(async (raw: unknown) => {
    const kit = parseKitMessage(raw);
    if (kit?.type === 'ready') { void panel.webview.postMessage(spec.message(current, false)); return; }
    if (kit?.type === 'error') { clearTimeout(timer); s.log.warn(`${spec.title}: ${kit.message}`); rejectRendered(new Error(`${spec.title}: ${kit.message}`)); return; }
    if (kit?.type === 'export') { try { await saveExport(kit, s.log, spec.exportDir); } catch (e) { s.log.warn(`export failed: ${String(e)}`); } return; }
    const r = spec.parseRendered(raw);
    if (r !== undefined) {
      clearTimeout(timer);
      if (firstRender) s.log.info(`${spec.title}: ${spec.describe(r)}`);
      firstRender = false;
      resolveRendered(r);
      return;
    }
    if (isRecord(raw) && spec.onMessage) spec.onMessage(raw, panel);
  }));
  if (spec.watch?.length) {
    let pending: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        try { current = spec.load(); void panel.webview.postMessage(spec.message(current, true)); } catch (e) { s.log.warn(`${spec.title}: could not refresh: ${String((e as Error)?.message ?? e)}`); }
      }, 400);
    };
    for (const glob of spec.watch) {
      const w = vscode.workspace.createFileSystemWatcher(glob);
      subs.push(w, w.onDidChange(refresh), w.onDidCreate(refresh), w.onDidDelete(refresh));
    }
    subs.push({ dispose: () => clearTimeout(pending) });
  }
  panel.onDidDispose(() => { clearTimeout(timer); for (const d of subs) d.dispose(); });
  return { panel, rendered };
}

/** The state every kit webview saves (webview/kit/kit.ts host().save): at least what it shows. */
export function sourceOf(state: unknown): string | undefined {
  return isRecord(state) && typeof state.source === 'string' ? state.source : undefined;
}
