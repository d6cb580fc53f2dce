#!/usr/bin/env bash
# Installs redis-server (Debian package) for the signaling-cluster tests, which start their own
# instance on a free loopback port. Idempotent; a system instance the package may start is stopped,
# since nothing here uses it.
set -euo pipefail

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

if ! command -v redis-server >/dev/null; then
  echo "install-redis: installing redis-server"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
fi

if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  "${SUDO[@]}" systemctl stop redis-server || true
  "${SUDO[@]}" systemctl disable redis-server >/dev/null 2>&1 || true
elif [ -x /etc/init.d/redis-server ] && "${SUDO[@]}" /etc/init.d/redis-server status >/dev/null 2>&1; then
  "${SUDO[@]}" /etc/init.d/redis-server stop || true
fi

echo "install-redis: ready ($(redis-server --version))"
