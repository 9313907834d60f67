#!/usr/bin/env bash
# Installs the Debian packages lockd needs to build, test and benchmark, and
# does nothing when they are all present. Debian's redis-server package starts
# a service on 6379 (lockd's default port) where systemd runs, and
# redis-sentinel one on 26379; they are stopped and disabled here, since the
# benchmark and the tests start their own instances on free ports;
# so is the prometheus service, which only lends its promtool to the tests.
set -euo pipefail

# clang with its compiler runtime (libclang-rt-14-dev) builds the fuzz targets
# (libFuzzer) and the sanitized variants of the suite. http-parser and simdjson
# parse the HTTP/JSON listener's input; prometheus (promtool) checks /metrics
# in the tests; wrk drives the HTTP benchmark; curl is the HTTP tests' client.
# OpenSSL's headers build the TLS listeners, and its command line makes the
# TLS tests' certificates. redis-sentinel drives the failover tests, as it
# would drive lockd in production.
packages=(g++ make libuv1-dev libfmt-dev doctest-dev libhiredis-dev liblua5.1-0-dev
          lua-cjson-dev lua-bitop-dev redis-tools redis-server redis-sentinel python3 python3-redis tmux
          clang libclang-rt-14-dev libhttp-parser-dev libsimdjson-dev prometheus wrk curl
          libssl-dev openssl)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The client-library suites (scripts/client-tests.sh) run node-redlock under
# node; their packages come from npm (tests/clients/node/install.sh). A node
# installed some other way (with its own npm) is used as it is.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

# Keep packaged services from starting during the install (policy-rc.d is the
# Debian hook for this), then restore whatever policy was there before.
policy=/usr/sbin/policy-rc.d
had_policy=0
if [ -e "$policy" ]; then had_policy=1; else
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
fi
cleanup() { [ "$had_policy" -eq 1 ] || $sudo rm -f "$policy"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
  $sudo systemctl disable --now redis-sentinel >/dev/null 2>&1 || true
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
echo "install-deps: done"
