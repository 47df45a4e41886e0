#!/usr/bin/env bash
# The Debian packages vifd's tests drive for real: network namespaces and ping, Go with the
# go-qemu QMP client, socat; Xen's xenstore tools, test-xenstore and pyxs (xen-utils-4.17 only
# recommends the hypervisor, which is not installed); chromium for the dashboard's browser
# tests; tshark to read vifd's pcap captures; ethtool to see the offloads a tap was given.
# Then xen-host-setup.sh: the real-Xen tests' machine (the hypervisor after all, QEMU, and a
# cache of the kernel and busybox images they boot).
# Run as root (CI is); without root it says what to install.
set -euo pipefail

PACKAGES=(
  iproute2 iputils-ping socat ethtool
  golang-go golang-github-digitalocean-go-qemu-dev
  xenstore-utils python3-pyxs xen-utils-4.17
  chromium
  tshark
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: not root; install these yourself: ${PACKAGES[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark (pcap captures are checked with it) would otherwise ask whether non-root users may capture.
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
# With QEMU 10's xen-net-device too: the real-Xen tests measure it as a reference, and CI skips nothing.
bash "$(dirname "$0")/xen-host-setup.sh" --with-qemu-peer
