// A QMP client nobody at vifd wrote: DigitalOcean's go-qemu (Debian's
// golang-github-digitalocean-go-qemu-dev). It connects, asks for the version,
// hot-plugs a xen-net-device, unplugs it and waits for DEVICE_DELETED,
// printing one line per step for the test to check.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

func fail(step string, err error) {
	fmt.Printf("FAIL %s: %v\n", step, err)
	os.Exit(1)
}

func main() {
	mon, err := qmp.NewSocketMonitor("unix", os.Args[1], 5*time.Second)
	if err != nil {
		fail("dial", err)
	}
	if err := mon.Connect(); err != nil {
		fail("connect", err)
	}
	defer mon.Disconnect()
	fmt.Printf("version %d.%d.%d\n", mon.Version.QEMU.Major, mon.Version.QEMU.Minor, mon.Version.QEMU.Micro)

	events, err := mon.Events(context.Background())
	if err != nil {
		fail("events", err)
	}
	// go-qemu's reader blocks until each event is taken, so events are drained concurrently.
	deleted := make(chan qmp.Event, 1)
	go func() {
		for e := range events {
			if e.Event == "DEVICE_DELETED" {
				deleted <- e
			}
		}
	}()

	out, err := mon.Run([]byte(`{"execute":"query-version","id":"v1"}`))
	if err != nil {
		fail("query-version", err)
	}
	fmt.Printf("query-version %s\n", out)

	out, err = mon.Run([]byte(`{"execute":"device_add","arguments":{"driver":"xen-net-device","id":"gonic","mac":"00:16:3e:00:00:42"},"id":"a1"}`))
	if err != nil {
		fail("device_add", err)
	}
	fmt.Printf("device_add %s\n", out)

	_, err = mon.Run([]byte(`{"execute":"device_add","arguments":{"driver":"xen-net-device","id":"gonic"},"id":"a2"}`))
	fmt.Printf("duplicate %v\n", err)

	out, err = mon.Run([]byte(`{"execute":"device_del","arguments":{"id":"gonic"},"id":"d1"}`))
	if err != nil {
		fail("device_del", err)
	}
	fmt.Printf("device_del %s\n", out)

	select {
	case e := <-deleted:
		fmt.Printf("event %s device=%v path=%v\n", e.Event, e.Data["device"], e.Data["path"])
	case <-time.After(10 * time.Second):
		fail("wait", fmt.Errorf("no DEVICE_DELETED within 10s"))
	}
}
