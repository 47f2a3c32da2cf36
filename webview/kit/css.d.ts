// esbuild bundles CSS imports into dist/webview/<panel>.css (linked by the host's panelHtml).
declare module '*.css';
