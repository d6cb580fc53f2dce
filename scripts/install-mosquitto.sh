#!/usr/bin/env bash
# Installs mosquitto (Debian package) for the MQTT signaling tests and benchmarks, which start their
# own broker on free loopback ports. Idempotent; a system instance the package may start is stopped,
# since nothing here uses it.
set -euo pipefail

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  echo "install-mosquitto: installing mosquitto"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto
fi

if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
  "${SUDO[@]}" systemctl stop mosquitto || true
  "${SUDO[@]}" systemctl disable mosquitto >/dev/null 2>&1 || true
elif [ -x /etc/init.d/mosquitto ] && "${SUDO[@]}" /etc/init.d/mosquitto status >/dev/null 2>&1; then
  "${SUDO[@]}" /etc/init.d/mosquitto stop || true
fi

echo "install-mosquitto: ready ($(/usr/sbin/mosquitto -h 2>&1 | head -1))"
