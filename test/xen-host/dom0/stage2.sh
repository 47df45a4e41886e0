#!/bin/bash
# dom0's PID 1 on the overlay root (the host's / read-only + tmpfs): mounts what Xen's tools
# need, loads dom0's Xen drivers, starts xenstored and xenconsoled, then runs the control
# agent (agent.py) until it says to power off. Whatever goes wrong powers off: the host sees
# QEMU exit and reports this console's tail, instead of waiting on a dom0 that hangs.
# Kernel command line: vifd.repo=<checkout> vifd.out=<writable share's path>
#   vifd.cache=<scripts/xen-host-setup.sh's cache> [vifd.xenstored=xenstored|oxenstored]
# Xen's own directory first: /usr/sbin/xl is Debian's wrapper, which picks that directory by
# reading /sys/hypervisor/version, and under TCG that read has come back empty once.
export PATH=/usr/lib/xen-4.17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
say() { echo "VIFD-DOM0: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
poweroff_now() { say "powering off"; sync; echo o > /proc/sysrq-trigger; sleep 10; }
fail() { say "FAILED: $*"; poweroff_now; }
repo=$(arg vifd.repo)
out=$(arg vifd.out)
xenstored=$(arg vifd.xenstored)
say "stage 2 on the host's root"

mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/xenstored /run/lock /dev/pts /dev/shm /var/log/xen /var/lib/xen /var/lib/xenstored
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# The writable share (the harness's per-run directory), at the same path as on the host.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 vifdout "$out" || fail "9p mount of $out"
# The cached kernel's modules, so that modprobe works from here on (xen-netback, for one).
kver=$(uname -r)
cache=$(arg vifd.cache)
mkdir -p "/lib/modules/$kver"
mount --bind "$cache/root/lib/modules/$kver" "/lib/modules/$kver" || fail "modules of $kver"
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd tun virtio_console; do
  modprobe "$m" || fail "modprobe $m"
done
mount -t xenfs xenfs /proc/xen || fail "xenfs"
hostname vifd-dom0
ip link set lo up

case ${xenstored:=xenstored} in
  xenstored|oxenstored) ;;
  *) fail "vifd.xenstored=$xenstored: xenstored or oxenstored" ;;
esac
"/usr/lib/xen-4.17/bin/$xenstored" --pid-file=/run/xenstored.pid || fail "$xenstored"
for _ in $(seq 100); do [ -S /run/xenstored/socket ] && break; sleep 0.05; done
[ -S /run/xenstored/socket ] || fail "$xenstored made no socket"
xen-init-dom0 >/dev/null || fail "xen-init-dom0"
# Guest consoles are logged into the share, where the host reads them directly.
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir="$out" || fail "xenconsoled"
say "xen tools up ($xenstored)"

cd "$repo" || fail "cd $repo"
/usr/bin/python3 "$repo/test/xen-host/dom0/agent.py" --out "$out"
say "agent exited with $?"
poweroff_now
