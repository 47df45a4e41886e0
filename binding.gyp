{
  "targets": [
    {
      "target_name": "vifd_native",
      "sources": ["native/tap.c", "native/tap-batch.c", "native/poll.c", "native/addon.c", "native/netdev.c", "native/uring.c", "native/grant-copy.c", "native/xen-host.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
