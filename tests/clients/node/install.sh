#!/usr/bin/env bash
# Installs the pinned node packages of the client suites (ioredis, node-redlock
# v4 and v5, see package-lock.json) into tests/clients/node/node_modules with
# `npm ci`, once: a stamp newer than package-lock.json skips the install.
# Exits non-zero, saying why, when node or npm is missing or the install fails.
set -euo pipefail
cd "$(dirname "$0")"

command -v node >/dev/null 2>&1 || { echo "node is not installed (scripts/install-deps.sh installs nodejs)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "npm is not installed (scripts/install-deps.sh installs npm)" >&2; exit 1; }

stamp=node_modules/.lockd-installed
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ "$stamp" -nt package.json ]; then
  exit 0
fi
if ! timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1; then
  echo "npm ci failed in $PWD:" >&2
  tail -20 npm-ci.log >&2
  exit 1
fi
rm -f npm-ci.log
touch "$stamp"
