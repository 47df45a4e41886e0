#!/bin/sh
# libxl's hotplug script for the netback reference peer (`xl network-attach ... script=` this):
# no bridge. dom0's end of the vif gets the address the harness left for that domU in
# /run/vifd-xen-host/netback-<domid>.addr and comes up; netback is told the hotplug is done.
# libxl runs it as `vif-hotplug.sh online|offline|add|remove` with XENBUS_PATH
# (backend/vif/<domid>/<devid>) and vif (the interface) in its environment.
dir=/run/vifd-xen-host
mkdir -p $dir
echo "$(date +%T.%N) $* XENBUS_PATH=$XENBUS_PATH vif=$vif" >> $dir/vif-hotplug.log
case $1 in
  online|add)
    domid=$(echo "$XENBUS_PATH" | cut -d/ -f3)
    devid=$(echo "$XENBUS_PATH" | cut -d/ -f4)
    dev=${vif:-vif$domid.$devid}
    if [ -f "$dir/netback-$domid.addr" ]; then
      ip addr add "$(cat "$dir/netback-$domid.addr")" dev "$dev" >> $dir/vif-hotplug.log 2>&1
    fi
    ip link set "$dev" up >> $dir/vif-hotplug.log 2>&1
    xenstore-write "$XENBUS_PATH/hotplug-status" connected ;;
esac
exit 0
