#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing.
# Runs apt-get only as root; otherwise says exactly what to install.
set -euo pipefail
source "$(dirname "$0")/lib/apt-install-missing.sh"

missing=()
/usr/bin/python3 -c 'import grpc' 2>/dev/null || missing+=(python3-grpcio)
/usr/bin/python3 -c 'import grpc_tools.protoc' 2>/dev/null || missing+=(python3-grpc-tools)
# test/integration/grpc-tls.test.ts makes its CA and certificates with the openssl CLI (not in Debian slim images)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
# nginx lives in /usr/sbin, which is not on every user's PATH.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)

# prometheus brings the server and promtool (test/integration/prometheus.test.ts); apt must
# not start its service (install_missing keeps services from starting): the test runs its own.
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

install_missing "the tests" "${missing[@]}"
