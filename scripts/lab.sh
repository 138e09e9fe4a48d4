#!/usr/bin/env bash
# Set up clusterkit from nothing and open JupyterLab on the curriculum.
#   bash scripts/lab.sh [extra jupyter lab options]
# JupyterLab listens on 127.0.0.1 and prints its URL with a login token; the
# clusterkit sidebar is active, and `%cluster start` in a notebook starts a cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/clusterkit lab notebooks "$@"
