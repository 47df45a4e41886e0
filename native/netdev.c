/*
 * What the netdev backends need beyond a tap's file descriptor: the tap's carrier
 * (TUNSETCARRIER, so `set_link` shows on the host side) and AF_UNIX datagram sockets,
 * which Node's dgram module does not offer (QEMU's -netdev dgram with unix addresses).
 * Datagrams are read with tapRead (a plain non-blocking read) and watched with pollStart.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addon.h"

/* tapSetCarrier(fd, on): the carrier of the tap behind fd (netif_carrier_on/off) */
napi_value vifd_tap_set_carrier(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    int fd, on_int;
    bool on = true;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
        napi_get_value_bool(env, argv[1], &on) != napi_ok) {
        napi_throw_type_error(env, "EINVAL", "tapSetCarrier(fd, on)");
        return NULL;
    }
    on_int = on ? 1 : 0;
    if (ioctl(fd, TUNSETCARRIER, &on_int) < 0) {
        vifd_throw_errno(env, "TUNSETCARRIER", errno);
    }
    return NULL;
}

/*
 * tapSetOffload(fd, flags): TUNSETOFFLOAD with TUN_F_* flags, the offloads the kernel may hand
 * this tap (checksum-partial and GSO frames); 0 makes it finish every frame itself.
 */
napi_value vifd_tap_set_offload(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    int fd;
    uint32_t flags;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
        napi_get_value_uint32(env, argv[1], &flags) != napi_ok) {
        napi_throw_type_error(env, "EINVAL", "tapSetOffload(fd, flags)");
        return NULL;
    }
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0) {
        vifd_throw_errno(env, "TUNSETOFFLOAD", errno);
    }
    return NULL;
}

static int unix_address(napi_env env, napi_value v, struct sockaddr_un *sa)
{
    size_t n;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (napi_get_value_string_utf8(env, v, sa->sun_path, sizeof(sa->sun_path), &n) != napi_ok) {
        return -1;
    }
    return n < sizeof(sa->sun_path) - 1 ? 0 : -1;
}

/* unixDgramOpen(localPath | null) -> fd: a non-blocking AF_UNIX datagram socket, bound when a path is given */
napi_value vifd_unix_dgram_open(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], result;
    napi_valuetype type = napi_null;
    struct sockaddr_un sa;
    int fd;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc >= 1) {
        NAPI_CALL(env, napi_typeof(env, argv[0], &type));
    }
    if (type == napi_string && unix_address(env, argv[0], &sa) < 0) {
        vifd_throw_errno(env, "unix socket path", ENAMETOOLONG);
        return NULL;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vifd_throw_errno(env, "socket", errno);
        return NULL;
    }
    if (type == napi_string && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(fd);
        vifd_throw_errno(env, "bind", err);
        return NULL;
    }
    NAPI_CALL(env, napi_create_int32(env, fd, &result));
    return result;
}

/* unixDgramSend(fd, remotePath, Uint8Array) -> bytes sent, or -errno */
napi_value vifd_unix_dgram_send(napi_env env, napi_callback_info info)
{
    size_t argc = 3, len;
    napi_value argv[3], ab, result;
    napi_typedarray_type type;
    size_t offset;
    void *data;
    struct sockaddr_un sa;
    ssize_t n;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    int fd;
    if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || unix_address(env, argv[1], &sa) < 0 ||
        napi_get_typedarray_info(env, argv[2], &type, &len, &data, &ab, &offset) != napi_ok ||
        type != napi_uint8_array) {
        napi_throw_type_error(env, "EINVAL", "unixDgramSend(fd, path, Uint8Array)");
        return NULL;
    }
    do {
        n = sendto(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa));
    } while (n < 0 && errno == EINTR);
    NAPI_CALL(env, napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &result));
    return result;
}
