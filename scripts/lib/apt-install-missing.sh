#!/usr/bin/env bash
# Sourced by the ensure-*-packages scripts. `install_missing WHAT PKG...` installs
# the given Debian packages (deduplicated) with apt-get when running as root,
# without letting apt start system services (our tests and benchmarks start their
# own servers on loopback ports); otherwise it prints the command and fails.
install_missing() {
  local what=$1
  shift
  [ $# -eq 0 ] && return 0
  local packages
  mapfile -t packages < <(printf '%s\n' "$@" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages for $what: ${packages[*]}" >&2
    echo "install them with: sudo apt-get install -y ${packages[*]}" >&2
    return 1
  fi
  echo "installing Debian packages for $what: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1; fi
  local status=0
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null || status=$?
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
  return "$status"
}
