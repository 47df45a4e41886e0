/*
 * A real Xen's dom0 devices, as libxengnttab and libxenevtchn use them: /dev/xen/gntdev to map
 * a frontend's granted pages (IOCTL_GNTDEV_MAP_GRANT_REF, then mmap at the index it gives) and
 * to copy through grants in batches (IOCTL_GNTDEV_GRANT_COPY), /dev/xen/evtchn to bind, notify
 * and unbind interdomain event channels, whose pending ports are read from the fd and unmasked
 * by writing them back. The structures and ioctl numbers are Linux's uapi (<xen/gntdev.h>,
 * <xen/evtchn.h>); the grant numbers are grant-abi.h's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The uapi headers use the hypervisor's own names for these. */
typedef uint32_t grant_ref_t;
typedef uint16_t domid_t;
#include <xen/evtchn.h>
#include <xen/gntdev.h>

#include "addon.h"
#include "grant-abi.h"
#include "tap-batch.h"

/* Ints per op of a GrantCopyBatch: ref, page offset, local offset, length, status. */
#define OP_INTS 5
/* Segments handed to one GRANT_COPY ioctl (the kernel batches them 16 at a time itself). */
#define COPY_CHUNK 64

static int get_u32(napi_env env, napi_value v, uint32_t *out)
{
    return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static int get_i64(napi_env env, napi_value v, int64_t *out)
{
    return napi_get_value_int64(env, v, out) == napi_ok ? 0 : -1;
}

/* xenDevOpen(path, nonblocking) -> fd: O_RDWR | O_CLOEXEC, as the libraries open them. */
napi_value vifd_xen_dev_open(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2], result;
    char path[256];
    size_t len;
    bool nonblock = false;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok ||
        (argc > 1 && napi_get_value_bool(env, argv[1], &nonblock) != napi_ok)) {
        napi_throw_type_error(env, "EINVAL", "xenDevOpen(path: string, nonblocking: boolean)");
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
    if (fd < 0) {
        vifd_throw_errno(env, path, errno);
        return NULL;
    }
    napi_create_int32(env, fd, &result);
    return result;
}

static void no_finalize(napi_env env, void *data, void *hint)
{
    /* The mapping is the owner's: unmapped by gntdevUnmap, never by the garbage collector. */
}

/*
 * gntdevMapRef(fd, domid, ref, writable) -> { index, addr, page }: the page as an ArrayBuffer
 * over the mapping. `index` and `addr` (a user address, exact in a double) are what
 * gntdevUnmap and gntdevAttach take back.
 */
napi_value vifd_gntdev_map_ref(napi_env env, napi_callback_info info)
{
    size_t argc = 4;
    napi_value argv[4], result, v, page;
    uint32_t fd, domid, ref;
    bool writable;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 4 || get_u32(env, argv[0], &fd) < 0 || get_u32(env, argv[1], &domid) < 0 ||
        get_u32(env, argv[2], &ref) < 0 || napi_get_value_bool(env, argv[3], &writable) != napi_ok) {
        napi_throw_type_error(env, "EINVAL", "gntdevMapRef(fd, domid, ref, writable: boolean)");
        return NULL;
    }
    struct ioctl_gntdev_map_grant_ref map;
    memset(&map, 0, sizeof(map));
    map.count = 1;
    map.refs[0].domid = domid;
    map.refs[0].ref = ref;
    if (ioctl((int)fd, IOCTL_GNTDEV_MAP_GRANT_REF, &map) < 0) {
        vifd_throw_errno(env, "IOCTL_GNTDEV_MAP_GRANT_REF", errno);
        return NULL;
    }
    /* The grant is checked here: a ref the frontend did not grant fails the mmap. */
    void *addr = mmap(NULL, GRANT_PAGE_SIZE, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, (int)fd,
                      (off_t)map.index);
    if (addr == MAP_FAILED) {
        int err = errno;
        struct ioctl_gntdev_unmap_grant_ref unmap = { .index = map.index, .count = 1 };
        ioctl((int)fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap);
        vifd_throw_errno(env, "mmap of a granted page", err);
        return NULL;
    }
    if (napi_create_external_arraybuffer(env, addr, GRANT_PAGE_SIZE, no_finalize, NULL, &page) != napi_ok) {
        struct ioctl_gntdev_unmap_grant_ref unmap = { .index = map.index, .count = 1 };
        munmap(addr, GRANT_PAGE_SIZE);
        ioctl((int)fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap);
        napi_throw_error(env, "EINTERNAL", "gntdevMapRef: napi_create_external_arraybuffer failed");
        return NULL;
    }
    NAPI_CALL(env, napi_create_object(env, &result));
    NAPI_CALL(env, napi_create_int64(env, (int64_t)map.index, &v));
    NAPI_CALL(env, napi_set_named_property(env, result, "index", v));
    NAPI_CALL(env, napi_create_int64(env, (int64_t)(uintptr_t)addr, &v));
    NAPI_CALL(env, napi_set_named_property(env, result, "addr", v));
    NAPI_CALL(env, napi_set_named_property(env, result, "page", page));
    return result;
}

/*
 * gntdevUnmap(fd, index, addr, page): the page's ArrayBuffer is detached first, so a stray
 * use afterwards reads an empty buffer instead of unmapped memory; then munmap and the unmap
 * ioctl (the grant is released once the page is no longer mapped).
 */
napi_value vifd_gntdev_unmap(napi_env env, napi_callback_info info)
{
    size_t argc = 4;
    napi_value argv[4];
    uint32_t fd;
    int64_t index, addr;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 4 || get_u32(env, argv[0], &fd) < 0 || get_i64(env, argv[1], &index) < 0 || get_i64(env, argv[2], &addr) < 0) {
        napi_throw_type_error(env, "EINVAL", "gntdevUnmap(fd, index, addr, page: ArrayBuffer)");
        return NULL;
    }
    bool detached = true;
    if (napi_is_detached_arraybuffer(env, argv[3], &detached) == napi_ok && !detached) {
        napi_detach_arraybuffer(env, argv[3]);
    }
    int err = 0;
    if (munmap((void *)(uintptr_t)addr, GRANT_PAGE_SIZE) < 0) err = errno;
    struct ioctl_gntdev_unmap_grant_ref unmap = { .index = (uint64_t)index, .count = 1 };
    if (ioctl((int)fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap) < 0 && err == 0) err = errno;
    if (err != 0) {
        vifd_throw_errno(env, "unmapping a granted page", err);
        return NULL;
    }
    return NULL;
}

/* gntdevAttach(addr) -> ArrayBuffer: another thread's view of a page mapped by gntdevMapRef. */
napi_value vifd_gntdev_attach(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], page;
    int64_t addr;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || get_i64(env, argv[0], &addr) < 0 || addr <= 0) {
        napi_throw_type_error(env, "EINVAL", "gntdevAttach(addr)");
        return NULL;
    }
    NAPI_CALL(env, napi_create_external_arraybuffer(env, (void *)(uintptr_t)addr, GRANT_PAGE_SIZE, no_finalize, NULL, &page));
    return page;
}

/*
 * gntdevCopy(fd, domid, toPage, ops: Int32Array, count, local: Uint8Array) -> failures
 *
 * GrantCopyBatch's ops as gntdev copy segments, the grant on one side and `local` on the other.
 * An op the kernel would refuse for the whole call (a span outside the page or the buffer) is
 * failed here with GNTST_bad_copy_arg, as Xen fails it alone; the rest go to the kernel, which
 * gives each its own GNTST status.
 */
napi_value vifd_gntdev_copy(napi_env env, napi_callback_info info)
{
    size_t argc = 6;
    napi_value argv[6], result;
    uint32_t fd, domid, count;
    bool to_page;
    int32_t *ops;
    uint8_t *local;
    size_t n_ops, local_len;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 6 || get_u32(env, argv[0], &fd) < 0 || get_u32(env, argv[1], &domid) < 0 ||
        napi_get_value_bool(env, argv[2], &to_page) != napi_ok ||
        vifd_get_typed(env, argv[3], napi_int32_array, (void **)&ops, &n_ops) < 0 ||
        get_u32(env, argv[4], &count) < 0 ||
        vifd_get_typed(env, argv[5], napi_uint8_array, (void **)&local, &local_len) < 0) {
        napi_throw_type_error(env, "EINVAL", "gntdevCopy(fd, domid, toPage: boolean, ops: Int32Array, count, local: Uint8Array)");
        return NULL;
    }
    if ((size_t)count * OP_INTS > n_ops) {
        napi_throw_range_error(env, "ERANGE", "gntdevCopy: count exceeds the ops given");
        return NULL;
    }
    struct gntdev_grant_copy_segment segs[COPY_CHUNK];
    int32_t *seg_op[COPY_CHUNK];
    uint32_t failures = 0;
    uint32_t i = 0;
    while (i < count) {
        int n = 0;
        for (; i < count && n < COPY_CHUNK; i++) {
            int32_t *op = ops + (size_t)i * OP_INTS;
            int64_t ref = (uint32_t)op[0], offset = op[1], local_offset = op[2], len = op[3];
            if (offset < 0 || len <= 0 || offset + len > GRANT_PAGE_SIZE || local_offset < 0 ||
                local_offset + len > (int64_t)local_len) {
                /* Xen copies nothing for an empty op and answers okay. */
                op[4] = len == 0 && offset >= 0 && offset <= GRANT_PAGE_SIZE && local_offset >= 0 &&
                        local_offset <= (int64_t)local_len ? GNTST_okay : GNTST_bad_copy_arg;
                if (op[4] != GNTST_okay) failures++;
                continue;
            }
            struct gntdev_grant_copy_segment *s = &segs[n];
            memset(s, 0, sizeof(*s));
            s->len = (uint16_t)len;
            if (to_page) {
                s->source.virt = local + local_offset;
                s->dest.foreign.ref = (grant_ref_t)ref;
                s->dest.foreign.offset = (uint16_t)offset;
                s->dest.foreign.domid = (domid_t)domid;
                s->flags = GNTCOPY_dest_gref;
            } else {
                s->source.foreign.ref = (grant_ref_t)ref;
                s->source.foreign.offset = (uint16_t)offset;
                s->source.foreign.domid = (domid_t)domid;
                s->dest.virt = local + local_offset;
                s->flags = GNTCOPY_source_gref;
            }
            seg_op[n++] = op;
        }
        if (n == 0) continue;
        struct ioctl_gntdev_grant_copy copy = { .count = (unsigned int)n, .segments = segs };
        if (ioctl((int)fd, IOCTL_GNTDEV_GRANT_COPY, &copy) < 0) {
            vifd_throw_errno(env, "IOCTL_GNTDEV_GRANT_COPY", errno);
            return NULL;
        }
        for (int k = 0; k < n; k++) {
            seg_op[k][4] = segs[k].status;
            if (segs[k].status != GNTST_okay) failures++;
        }
    }
    napi_create_uint32(env, failures, &result);
    return result;
}

static napi_value evtchn_ioctl(napi_env env, napi_callback_info info, const char *what, int nargs)
{
    size_t argc = 3;
    napi_value argv[3], result;
    uint32_t fd, a = 0, b = 0;
    int rc;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if ((int)argc < nargs + 1 || get_u32(env, argv[0], &fd) < 0 || get_u32(env, argv[1], &a) < 0 ||
        (nargs > 1 && get_u32(env, argv[2], &b) < 0)) {
        napi_throw_type_error(env, "EINVAL", what);
        return NULL;
    }
    if (nargs == 2) {
        struct ioctl_evtchn_bind_interdomain bind = { .remote_domain = a, .remote_port = b };
        rc = ioctl((int)fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bind);
    } else if (strcmp(what, "evtchnUnbind(fd, port)") == 0) {
        struct ioctl_evtchn_unbind unbind = { .port = a };
        rc = ioctl((int)fd, IOCTL_EVTCHN_UNBIND, &unbind);
    } else {
        struct ioctl_evtchn_notify notify = { .port = a };
        rc = ioctl((int)fd, IOCTL_EVTCHN_NOTIFY, &notify);
    }
    if (rc < 0) {
        vifd_throw_errno(env, what, errno);
        return NULL;
    }
    napi_create_int32(env, rc, &result);
    return result;
}

/* evtchnBindInterdomain(fd, domid, remotePort) -> the local port. */
napi_value vifd_evtchn_bind_interdomain(napi_env env, napi_callback_info info)
{
    return evtchn_ioctl(env, info, "evtchnBindInterdomain(fd, domid, remotePort)", 2);
}

napi_value vifd_evtchn_unbind(napi_env env, napi_callback_info info)
{
    return evtchn_ioctl(env, info, "evtchnUnbind(fd, port)", 1);
}

napi_value vifd_evtchn_notify(napi_env env, napi_callback_info info)
{
    return evtchn_ioctl(env, info, "evtchnNotify(fd, port)", 1);
}

/*
 * evtchnPending(fd, ports: Uint32Array) -> count: the pending ports the fd has (0 when none:
 * the fd is non-blocking). Each stays masked until evtchnUnmask writes it back.
 */
napi_value vifd_evtchn_pending(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2], result;
    uint32_t fd, *ports;
    size_t n;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2 || get_u32(env, argv[0], &fd) < 0 || vifd_get_typed(env, argv[1], napi_uint32_array, (void **)&ports, &n) < 0) {
        napi_throw_type_error(env, "EINVAL", "evtchnPending(fd, ports: Uint32Array)");
        return NULL;
    }
    ssize_t got = read((int)fd, ports, n * sizeof(uint32_t));
    if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) got = 0;
        else {
            vifd_throw_errno(env, "reading pending event channels", errno);
            return NULL;
        }
    }
    napi_create_uint32(env, (uint32_t)(got / sizeof(uint32_t)), &result);
    return result;
}

/* evtchnUnmask(fd, ports: Uint32Array, count): the ports may raise the fd again. */
napi_value vifd_evtchn_unmask(napi_env env, napi_callback_info info)
{
    size_t argc = 3;
    napi_value argv[3];
    uint32_t fd, count, *ports;
    size_t n;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 3 || get_u32(env, argv[0], &fd) < 0 || vifd_get_typed(env, argv[1], napi_uint32_array, (void **)&ports, &n) < 0 ||
        get_u32(env, argv[2], &count) < 0 || count > n) {
        napi_throw_type_error(env, "EINVAL", "evtchnUnmask(fd, ports: Uint32Array, count)");
        return NULL;
    }
    if (count > 0 && write((int)fd, ports, count * sizeof(uint32_t)) < 0) {
        vifd_throw_errno(env, "unmasking event channels", errno);
        return NULL;
    }
    return NULL;
}
