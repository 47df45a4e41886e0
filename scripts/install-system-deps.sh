#!/usr/bin/env bash
# The Debian packages vifd's tests drive for real: network namespaces and ping, Go with the
# go-qemu QMP client, socat. Run as root (CI is); without root it says what to install.
set -euo pipefail

PACKAGES=(
  iproute2 iputils-ping socat
  golang-go golang-github-digitalocean-go-qemu-dev
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: not root; install these yourself: ${PACKAGES[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
