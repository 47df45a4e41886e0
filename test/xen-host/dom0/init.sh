#!/bin/sh
# dom0's /init (busybox, in the initramfs the harness assembles at boot): loads what reaching
# the host's root takes, mounts it read-only over virtio-9p under a tmpfs overlay, and hands
# over to stage2.sh from the checkout, which runs on that root as PID 1.
# Kernel command line: vifd.repo=<checkout> (and what stage2.sh reads).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "VIFD-DOM0: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }
rescue() { say "FAILED: $*"; exec sh; }
say "initramfs up"
for m in $(cat /lib/modules/load.list); do insmod "/lib/modules/$m" || say "insmod $m failed"; done
repo=$(sed -n 's/.*vifd\.repo=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$repo" ] || rescue "no vifd.repo= on the kernel command line"
# The 9p device shows up asynchronously once virtio-pci has probed.
i=0
until grep -qs hostroot /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; do
  i=$((i + 1)); [ $i -le 100 ] || rescue "no virtio-9p device tagged hostroot"; sleep 0.1
done
mkdir -p /lower /rw /newroot
# cache=loose: the host's root does not change under a run, so dom0 may keep what it read.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /lower || rescue "9p mount of /"
mount -t tmpfs -o size=512m tmpfs /rw && mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || rescue "overlay mount"
stage2=$repo/test/xen-host/dom0/stage2.sh
[ -f "/newroot$stage2" ] || rescue "$stage2 is not visible through 9p"
say "root mounted"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash "$stage2"
