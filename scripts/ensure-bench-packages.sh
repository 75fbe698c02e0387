#!/usr/bin/env bash
# Installs the Debian packages `make bench` needs, when they are missing:
# h2load (nghttp2-client), the HTTP/2 load generator, and redis-server/redis-tools
# (redis-cli, redis-benchmark). Runs apt-get only as root; otherwise says what to install.
set -euo pipefail
source "$(dirname "$0")/lib/apt-install-missing.sh"

missing=()
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)

install_missing "the benchmarks" "${missing[@]}"
