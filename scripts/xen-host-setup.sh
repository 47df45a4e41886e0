#!/usr/bin/env bash
# Prepares what the real-Xen tests (test/xen-host/) boot: a Xen 4.17 hypervisor with a PV dom0
# inside qemu-system-x86_64, dom0 running on this machine's own root file system over 9p.
#
#   scripts/xen-host-setup.sh [--with-qemu-peer]      (as root; idempotent; silent when done)
#
# 1. Debian packages: the hypervisor image and Xen's tools (dom0 runs them from this root),
#    QEMU, and what building the images takes.
# 2. Into the cache (VIFD_XEN_HOST_CACHE, default /var/cache/vifd-xen-host), downloaded with
#    apt-get download, never installed: the current Debian 6.1 kernel (dom0's and the domUs')
#    and busybox-static (the domUs' whole user space, and the same nc/ping in dom0).
# 3. Built there: xen (uncompressed, as QEMU's multiboot loader wants it), vmlinux (the
#    kernel's ELF image: Xen and libxl load it without decompressing under TCG, the fastest
#    form), and two base initramfs archives (busybox + the modules each needs before it can
#    reach more). Neither has an /init: the harness appends the checkout's own init scripts at
#    every boot, so editing them needs no new setup run.
# 4. READY, written last: what the harness checks before it boots (FORMAT below; bump it when
#    the cache's layout or contents change, so an older cache is reported, not half-used).
#
# --with-qemu-peer also installs QEMU 10 (qemu-system-xen) from bookworm-backports for the
# QEMU reference peer (xen-net-device exists from QEMU 8.2; bookworm's own QEMU is 7.2).
# install-system-deps.sh runs this after its own `apt-get update`; so does `npm run ci`.
set -euo pipefail

FORMAT=1
CACHE=${VIFD_XEN_HOST_CACHE:-/var/cache/vifd-xen-host}
PACKAGES=(
  xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
  qemu-system-x86 cpio kmod xz-utils gzip python3 iproute2 iputils-ping procps
)
# Modules the base images load before anything else is reachable: dom0 mounts the host's
# root over virtio-9p with an overlay (it modprobes the rest from there); a domU only needs
# its netfront.
DOM0_MODULES=(virtio_pci 9pnet_virtio 9p overlay)
DOMU_MODULES=(xen-netfront)

with_qemu_peer=0
for arg in "$@"; do
  case $arg in
    --with-qemu-peer) with_qemu_peer=1 ;;
    *) echo "usage: $0 [--with-qemu-peer]" >&2; exit 2 ;;
  esac
done

say() { echo "xen-host-setup: $*"; }
die() { echo "xen-host-setup: $*" >&2; exit 1; }
# Runs a noisy command quietly; on failure its output is shown, since it says why.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then echo "$out" >&2; die "failed: $*"; fi
}

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get; the cache is $CACHE)"
case $CACHE in *[[:space:],]*) die "cache path '$CACHE' has whitespace or a comma (it travels in QEMU's -initrd list)";; esac
export DEBIAN_FRONTEND=noninteractive
started=$(date +%s)
did=()

installed() { # PKG...: true when every one is installed
  local status
  status=$(dpkg-query -W -f='${db:Status-Status}\n' "$@" 2>/dev/null) || return 1
  ! grep -qv '^installed$' <<<"$status"
}

if ! installed "${PACKAGES[@]}"; then
  quiet apt-get install -y --no-install-recommends "${PACKAGES[@]}"
  did+=("installed ${PACKAGES[*]}")
fi

qemu_peer_ready() {
  [ -x /usr/libexec/xen-qemu-system-i386 ] &&
    /usr/libexec/xen-qemu-system-i386 -device help 2>/dev/null | grep -q '"xen-net-device"'
}
if [ $with_qemu_peer = 1 ] && ! qemu_peer_ready; then
  # The mirror the machine already uses, with backports beside it. Backports are never
  # installed unless asked for (priority 100), so the source can stay: it brings the peer's
  # security updates.
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || die "cannot tell which Debian mirror this machine uses (for bookworm-backports)"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" > /etc/apt/sources.list.d/vifd-bookworm-backports.sources
  quiet apt-get update
  # qemu-system-xen needs the qemu-system-common of its own version: x86 moves along.
  quiet apt-get install -y --no-install-recommends -t bookworm-backports qemu-system-xen qemu-system-x86
  qemu_peer_ready || die "QEMU from bookworm-backports has no xen-net-device"
  did+=("installed QEMU $(/usr/libexec/xen-qemu-system-i386 --version | head -1 | awk '{print $4}') from bookworm-backports")
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "another setup holds $CACHE/.lock"

# The kernel linux-image-amd64 points at today; an offline machine keeps the one it has.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1/{print $2; exit}')
if [ -z "$kpkg" ]; then
  kpkg=$(sed -n 's/^kernel-package=//p' "$CACHE/READY" 2>/dev/null || true)
  [ -n "$kpkg" ] || die "apt-cache knows no linux-image-6.1 package behind linux-image-amd64 (apt-get update first)"
fi
# Says what this run did, in one line, and only when it did something.
report() { [ ${#did[@]} -eq 0 ] || say "$(IFS=';'; echo "${did[*]}" | sed 's/;/; /g') in $(( $(date +%s) - started )) s"; }
if [ "$(cat "$CACHE/READY" 2>/dev/null)" = "$(printf 'format=%s\nkernel-package=%s' $FORMAT "$kpkg")" ]; then
  report
  exit 0
fi

rm -f "$CACHE/READY"
work=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Downloads: kept while the kernel stays the same, so a FORMAT bump rebuilds without the network.
mkdir -p "$CACHE/debs"
if ! ls "$CACHE/debs/${kpkg}"_*.deb >/dev/null 2>&1 || ! ls "$CACHE"/debs/busybox-static_*.deb >/dev/null 2>&1; then
  rm -f "$CACHE"/debs/*.deb
  (cd "$CACHE/debs" && quiet apt-get download "$kpkg" busybox-static)
  did+=("downloaded $kpkg and busybox-static")
fi

root=$work/root
mkdir -p "$root"
for deb in "$CACHE"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
kver=${kpkg#linux-image-}
[ -d "$root/lib/modules/$kver" ] || die "$kpkg has no lib/modules/$kver"
depmod -b "$root" "$kver"

# vmlinuz is a bzImage whose payload is an XZ stream holding the ELF image: try each XZ magic.
extract_vmlinux() { # bzImage out
  local off
  for off in $(LC_ALL=C grep -abo $'\xfd7zXZ\x00' "$1" | cut -d: -f1); do
    tail -c +$((off + 1)) "$1" | xz -dc 2>/dev/null > "$2" || true
    [ "$(head -c 4 "$2" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] && return 0
  done
  die "no XZ-compressed ELF image in $1"
}
extract_vmlinux "$root/boot/vmlinuz-$kver" "$work/vmlinux"
zcat /boot/xen-4.17-amd64.gz > "$work/xen"

# base_initramfs NAME MODULE...: busybox with its applet links, the modules and what they
# need in load order (lib/modules/load.list), no /init.
base_initramfs() {
  local name=$1 dir=$work/$1.d ko
  shift
  mkdir -p "$dir"/{bin,dev,proc,sys,tmp,lib/modules}
  cp "$root/bin/busybox" "$dir/bin/busybox"
  for applet in $("$dir/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
  done
  for m in "$@"; do
    modprobe -d "$root" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
  done | awk '!seen[$0]++' | while read -r ko; do
    cp "$ko" "$dir/lib/modules/"
    basename "$ko" >> "$dir/lib/modules/load.list"
  done
  (cd "$dir" && find . | LC_ALL=C sort | cpio -H newc -o --quiet -R 0:0 | gzip -1) > "$work/$name.cpio.gz"
  rm -rf "$dir"
}
base_initramfs dom0-base "${DOM0_MODULES[@]}"
base_initramfs domU-base "${DOMU_MODULES[@]}"

# Swap the new tree in, then say it is ready.
rm -rf "$CACHE/root" "$CACHE/vmlinux" "$CACHE/xen" "$CACHE"/*.cpio.gz
mv "$root" "$work/vmlinux" "$work/xen" "$work/dom0-base.cpio.gz" "$work/domU-base.cpio.gz" "$CACHE/"
printf 'format=%s\nkernel-package=%s' $FORMAT "$kpkg" > "$CACHE/READY.tmp"
mv "$CACHE/READY.tmp" "$CACHE/READY"
did+=("built $CACHE for $kver")
report
