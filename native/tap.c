/*
 * Linux tap devices: what Node cannot do itself (TUNSETIFF, SIOCSIFFLAGS) plus
 * non-blocking frame reads and writes on the tap's file descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addon.h"

static int get_string(napi_env env, napi_value v, char *buf, size_t len)
{
    size_t n;
    return napi_get_value_string_utf8(env, v, buf, len, &n) == napi_ok ? (int)n : -1;
}

/* tapOpen(name: string, vnetHdr: boolean) -> { fd, ifname } */
napi_value vifd_tap_open(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2], result, v;
    char name[IFNAMSIZ] = "";
    bool vnet_hdr = false;
    struct ifreq ifr;
    int fd;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || get_string(env, argv[0], name, sizeof(name)) < 0) {
        napi_throw_type_error(env, "EINVAL", "tapOpen: name must be a string");
        return NULL;
    }
    if (argc > 1) {
        napi_get_value_bool(env, argv[1], &vnet_hdr);
    }

    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        vifd_throw_errno(env, "open /dev/net/tun", errno);
        return NULL;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int err = errno;
        close(fd);
        vifd_throw_errno(env, "TUNSETIFF", err);
        return NULL;
    }
    if (vnet_hdr) {
        /* struct virtio_net_hdr without num_buffers; said explicitly, as a reused tap keeps its old size */
        int hdr_sz = 10;
        if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_sz) < 0) {
            int err = errno;
            close(fd);
            vifd_throw_errno(env, "TUNSETVNETHDRSZ", err);
            return NULL;
        }
    }

    NAPI_CALL(env, napi_create_object(env, &result));
    NAPI_CALL(env, napi_create_int32(env, fd, &v));
    NAPI_CALL(env, napi_set_named_property(env, result, "fd", v));
    NAPI_CALL(env, napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v));
    NAPI_CALL(env, napi_set_named_property(env, result, "ifname", v));
    return result;
}

static int get_fd_and_buffer(napi_env env, napi_callback_info info, int *fd, void **data, size_t *len)
{
    size_t argc = 2;
    napi_value argv[2];
    bool is_typed = false;

    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
        napi_get_value_int32(env, argv[0], fd) != napi_ok) {
        return -1;
    }
    napi_is_typedarray(env, argv[1], &is_typed);
    if (is_typed) {
        napi_typedarray_type type;
        size_t length, offset;
        napi_value ab;
        if (napi_get_typedarray_info(env, argv[1], &type, &length, data, &ab, &offset) != napi_ok ||
            type != napi_uint8_array) {
            return -1;
        }
        *len = length;
        return 0;
    }
    return -1;
}

/* One non-blocking read or write of a whole frame; the result is bytes or -errno. */
static napi_value frame_io(napi_env env, napi_callback_info info, int writing)
{
    int fd;
    void *data;
    size_t len;
    ssize_t n;
    napi_value result;

    if (get_fd_and_buffer(env, info, &fd, &data, &len) < 0) {
        napi_throw_type_error(env, "EINVAL", writing ? "tapWrite(fd, Uint8Array)" : "tapRead(fd, Uint8Array)");
        return NULL;
    }
    do {
        n = writing ? write(fd, data, len) : read(fd, data, len);
    } while (n < 0 && errno == EINTR);
    NAPI_CALL(env, napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &result));
    return result;
}

/* tapRead(fd, Uint8Array) -> bytes read, or -errno (-EAGAIN when nothing is pending) */
napi_value vifd_tap_read(napi_env env, napi_callback_info info)
{
    return frame_io(env, info, 0);
}

/* tapWrite(fd, Uint8Array) -> bytes written, or -errno */
napi_value vifd_tap_write(napi_env env, napi_callback_info info)
{
    return frame_io(env, info, 1);
}

/* close(fd) */
napi_value vifd_fd_close(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    int fd;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
        napi_throw_type_error(env, "EINVAL", "close(fd)");
        return NULL;
    }
    if (close(fd) < 0) {
        vifd_throw_errno(env, "close", errno);
    }
    return NULL;
}

/* linkSetUp(name, up): what `ip link set NAME up|down` does, for the interface the tap created */
napi_value vifd_link_set_up(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    char name[IFNAMSIZ] = "";
    bool up = true;
    struct ifreq ifr;
    int s, err = 0;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2 || get_string(env, argv[0], name, sizeof(name)) < 0 ||
        napi_get_value_bool(env, argv[1], &up) != napi_ok) {
        napi_throw_type_error(env, "EINVAL", "linkSetUp(name, up)");
        return NULL;
    }
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        vifd_throw_errno(env, "socket", errno);
        return NULL;
    }
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        err = errno;
    } else {
        ifr.ifr_flags = up ? (ifr.ifr_flags | IFF_UP) : (ifr.ifr_flags & ~IFF_UP);
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
            err = errno;
        }
    }
    close(s);
    if (err) {
        vifd_throw_errno(env, "SIOCSIFFLAGS", err);
    }
    return NULL;
}
