#!/usr/bin/env bash
# Installs what `npm run bench` needs beyond the test dependencies on Debian/Ubuntu: a C compiler and
# libc headers for section 10's LD_PRELOAD shim (bench/rcvbuf/rcvbuf.c), and ss (iproute2) to read the
# receive buffers it set. Idempotent: runs apt-get only when something is missing.
set -euo pipefail

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

missing=()
command -v cc >/dev/null || missing+=(gcc)
[ -e /usr/include/dlfcn.h ] || missing+=(libc6-dev)
command -v ss >/dev/null || missing+=(iproute2)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-bench-deps: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "install-bench-deps: ready ($(cc --version | head -n1))"
