#!/bin/sh
# A test domU's /init (busybox; the harness appends it to the cached base initramfs at boot).
# It loads the real xen-netfront, gives every ethN that appears the address the kernel command
# line names for it (so vif hotplug/unplug cycles need nothing from dom0), says on its console
# when an ethN comes and goes, and runs shell snippets that dom0 types on its console.
#
# Kernel command line:
#   vifd.eth0=A.B.C.D/N ...        address of each ethN, whenever it appears
#   xen_netfront.PARAM=VALUE ...   netfront's module parameters (insmod does not read the
#                                  command line itself, as modprobe would), e.g. max_queues=2
#
# Console protocol (domu.ts is the other end), one line each:
#   in:  VIFD-CMD <job> <secs> <base64 of an sh script>
#   out: VIFD-ACK <job>                              at once (a resent job runs once)
#        VIFD-BEGIN <job> / its output / VIFD-END <job> rc=<rc>     when it ends; killed
#                                                    after <secs> (rc 137); blocks never mix
#   out: VIFD-DOMU: ethN appeared mac M / ethN up A.B.C.D/N / ethN gone / ready
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run
mount -t tmpfs tmpfs /tmp
mkdir -p /tmp/jobs /tmp/addr
say() { echo "VIFD-DOMU: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }

netfront_params=
for word in $(cat /proc/cmdline); do
  case $word in
    vifd.eth*=*) name=${word%%=*}; echo "${word#*=}" > "/tmp/addr/${name#vifd.}" ;;
    xen_netfront.*=*) netfront_params="$netfront_params ${word#xen_netfront.}" ;;
  esac
done
for m in $(cat /lib/modules/load.list); do
  case $m in
    xen-netfront.ko) insmod "/lib/modules/$m" $netfront_params && say "xen-netfront loaded${netfront_params:+ with$netfront_params}" ;;
    *) insmod "/lib/modules/$m" || say "insmod $m failed" ;;
  esac
done
ip link set lo up

# Interface watcher: a vif is hot-plugged (and unplugged) long after boot, maybe many times.
# A device is known by its ifindex, not its name: a netfront reload can free ethN and take it
# again between two looks, and the new ethN must still be announced (and given its address).
(
  while true; do
    for dev in /sys/class/net/eth*; do
      [ -e "$dev" ] || continue
      ifname=${dev##*/}
      read -r ifindex < "$dev/ifindex" || continue
      seen=
      [ -e "/tmp/seen.$ifname" ] && read -r seen < "/tmp/seen.$ifname"
      [ "$seen" = "$ifindex" ] && continue
      [ -n "$seen" ] && say "$ifname gone"
      echo "$ifindex" > "/tmp/seen.$ifname"
      say "$ifname appeared mac $(cat "$dev/address")"
      if [ -f "/tmp/addr/$ifname" ]; then
        addr=$(cat "/tmp/addr/$ifname")
        ip addr add "$addr" dev "$ifname" && ip link set "$ifname" up && say "$ifname up $addr"
      fi
    done
    for seen in /tmp/seen.*; do
      [ -e "$seen" ] || continue
      ifname=${seen#/tmp/seen.}
      [ -e "/sys/class/net/$ifname" ] && continue
      rm -f "$seen"
      say "$ifname gone"
    done
    sleep 0.2
  done
) &

# Command loop. The console is shared by every job and by the lines above: a job's block is
# printed whole under a lock (busybox has no flock; mkdir is atomic).
stty -F /dev/hvc0 -echo -onlcr 2>/dev/null
lock() { while ! mkdir /tmp/console.lock 2>/dev/null; do usleep 10000; done; }
unlock() { rmdir /tmp/console.lock; }
run_job() { # job secs
  timeout -s KILL "$2" sh "/tmp/jobs/$1.sh" > "/tmp/jobs/$1.out" 2>&1 < /dev/null
  rc=$?
  lock
  echo "VIFD-BEGIN $1"
  cat "/tmp/jobs/$1.out"
  echo "VIFD-END $1 rc=$rc"
  unlock
  rm -f "/tmp/jobs/$1.out"
}
say "ready"
while true; do
  while IFS= read -r line; do
    case $line in
      *VIFD-CMD\ *)
        set -- ${line#*VIFD-CMD }
        [ $# = 3 ] || continue
        lock; echo "VIFD-ACK $1"; unlock
        [ -e "/tmp/jobs/$1.sh" ] && continue
        echo "$3" | base64 -d > "/tmp/jobs/$1.sh" 2>/dev/null
        run_job "$1" "$2" &
        ;;
    esac
  done < /dev/hvc0
  sleep 0.2
done
