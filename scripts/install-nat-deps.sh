#!/usr/bin/env bash
# Installs what `npm run test:nat` needs on Debian/Ubuntu: ip netns + ss (iproute2), iptables,
# conntrack (to make a NAT forget its mappings), coturn (turnserver, turnutils_*) and python3 (the
# lab's packet delayer). Idempotent: installs only
# what is missing, and runs apt-get only then.
set -euo pipefail

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
command -v conntrack >/dev/null || missing+=(conntrack)
command -v turnserver >/dev/null || missing+=(coturn)
command -v python3 >/dev/null || missing+=(python3)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-nat-deps: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The package may start a system coturn on install (only where an init system runs). It listens in
# the host's namespace, not the lab's, but nothing should answer there; the lab runs its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet coturn 2>/dev/null; then
  "${SUDO[@]}" systemctl stop coturn || true
  "${SUDO[@]}" systemctl disable coturn >/dev/null 2>&1 || true
elif [ -x /etc/init.d/coturn ] && "${SUDO[@]}" /etc/init.d/coturn status >/dev/null 2>&1; then
  "${SUDO[@]}" /etc/init.d/coturn stop || true
fi

echo "install-nat-deps: ready (coturn $(turnserver --version 2>/dev/null | head -n1), $(iptables --version))"
