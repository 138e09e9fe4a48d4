#!/usr/bin/env bash
# Set up clusterkit from nothing on a Debian machine (root or sudo for apt).
#   bash scripts/setup.sh          Python environment for JupyterLab + clusterkit
#   bash scripts/setup.sh --test   ... plus what the tests need (sshd, Chromium, test tools)
# Idempotent: a second run only checks. The environment lives in .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "$want_test" = 1 ]; then
  # sshd for the SSH tests, Chromium for the browser tests, iproute2 for namespaces.
  apt_install openssh-server chromium iproute2
fi
command -v node >/dev/null || apt_install nodejs npm

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
export PATH="$PWD/.venv/bin:$PATH"
# The pip install below builds the JupyterLab extension (hatch-jupyter-builder runs jlpm
# and Node in labextension/) unless clusterkit/labextension/ exists: drop a stale build.
built=clusterkit/labextension/package.json
if [ -f "$built" ] && [ -n "$(find labextension/src labextension/style labextension/schema \
    labextension/package.json labextension/yarn.lock -newer "$built" -print -quit)" ]; then
  echo "setup: labextension sources changed since the last build; rebuilding it"
  rm -rf clusterkit/labextension
fi
python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
extras="."
[ "$want_test" = 1 ] && extras=".[test]"
echo "setup: installing clusterkit ($extras) into .venv"
python -m pip install -q -e "$extras" 2>&1 | grep -v "^WARNING: Location" || true
python -c "import clusterkit" || { echo "setup: clusterkit did not install" >&2; exit 1; }
if [ "$want_test" = 1 ] && [ ! -x .venv/node/node_modules/.bin/configurable-http-proxy ]; then
  # JupyterHub's proxy for tests/hub (npm, kept inside .venv/ like everything else).
  echo "setup: installing configurable-http-proxy (npm) into .venv/node"
  npm install --prefix .venv/node --no-audit --no-fund --loglevel=error configurable-http-proxy@^5 >/dev/null
fi
labextensions=$(jupyter labextension list 2>&1 || true)
grep -q "clusterkit.*enabled.*OK" <<<"$labextensions" \
  || { echo "setup: the clusterkit JupyterLab extension is not installed (building it needs Node 20)" >&2; exit 1; }
serverextensions=$(jupyter server extension list 2>&1 || true)
grep -q "clusterkit.server.*enabled" <<<"$serverextensions" \
  || { echo "setup: the clusterkit server extension is not enabled" >&2; exit 1; }
echo "setup: done"
