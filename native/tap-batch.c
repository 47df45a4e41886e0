/*
 * Batched tap I/O: many frames per N-API crossing. A tap takes one frame per write() and gives
 * one per read(), so the syscalls stay per frame; what batching saves is the JS <-> C crossing,
 * argument unwrapping and result boxing around each of them, which cost as much as the
 * syscall itself for small frames.
 *
 * Frames travel packed in one Uint8Array; Uint32Arrays carry their offsets and lengths.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addon.h"
#include "tap-batch.h"

int vifd_get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len)
{
    bool is_typed = false;
    napi_typedarray_type type;
    size_t offset;
    napi_value ab;

    if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return -1;
    if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &offset) != napi_ok) return -1;
    return type == want ? 0 : -1;
}

size_t vifd_read_frames(int fd, uint8_t *buf, size_t cap, uint32_t *lens, size_t max, size_t frame_cap, int *err)
{
    size_t count = 0, used = 0;
    ssize_t n;

    *err = 0;
    while (count < max && used <= cap && cap - used >= frame_cap) {
        do {
            n = read(fd, buf + used, cap - used);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            *err = errno;
            break;
        }
        lens[count++] = (uint32_t)n;
        /* Each frame starts on 8 bytes: after a 10-byte vnet header its data lies as netback
         * puts it in a guest's page (NET_IP_ALIGN), so copies into guest memory go by words. */
        used = (used + (size_t)n + 7) & ~(size_t)7;
    }
    return count;
}

/*
 * tapWriteGather(fd, head: Uint8Array, memory: Uint8Array, offsets: Uint32Array,
 *                lengths: Uint32Array, count, status: Int32Array) -> frames written
 *
 * Each frame is `head` (a virtio_net_hdr, or empty) followed by memory[offsets[i],
 * offsets[i] + lengths[i]), written with one writev() (a write() without a head) straight from
 * where it lies (a batch buffer, or a guest's granted page). Frames go in order and the call
 * stops at the first one that fails, leaving its errno in status[0] (0 when all went). EAGAIN
 * means the tap's queue is full: the caller decides what to do with the rest rather than C
 * spinning on it. Every frame is checked before any is written, so a bad batch writes nothing.
 */
napi_value vifd_tap_write_gather(napi_env env, napi_callback_info info)
{
    size_t argc = 7, head_len, mem_len, n_off, n_len, n_status;
    napi_value argv[7], result;
    uint8_t *head, *mem;
    uint32_t *offsets, *lengths, count, i;
    int32_t *status;
    int fd, err = 0;
    struct iovec iov[2];

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 7 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
        vifd_get_typed(env, argv[1], napi_uint8_array, (void **)&head, &head_len) < 0 ||
        vifd_get_typed(env, argv[2], napi_uint8_array, (void **)&mem, &mem_len) < 0 ||
        vifd_get_typed(env, argv[3], napi_uint32_array, (void **)&offsets, &n_off) < 0 ||
        vifd_get_typed(env, argv[4], napi_uint32_array, (void **)&lengths, &n_len) < 0 ||
        napi_get_value_uint32(env, argv[5], &count) != napi_ok ||
        vifd_get_typed(env, argv[6], napi_int32_array, (void **)&status, &n_status) < 0 || n_status < 1) {
        napi_throw_type_error(env, "EINVAL", "tapWriteGather(fd, head: Uint8Array, memory: Uint8Array, "
            "offsets: Uint32Array, lengths: Uint32Array, count, status: Int32Array)");
        return NULL;
    }
    if (count > n_off || count > n_len) {
        napi_throw_range_error(env, "ERANGE", "tapWriteGather: count exceeds the offsets or lengths given");
        return NULL;
    }
    for (i = 0; i < count; i++) {
        if ((uint64_t)offsets[i] + lengths[i] > mem_len) {
            napi_throw_range_error(env, "ERANGE", "tapWriteGather: a frame lies outside the memory");
            return NULL;
        }
    }
    iov[0].iov_base = head;
    iov[0].iov_len = head_len;
    for (i = 0; i < count; i++) {
        ssize_t n;
        iov[1].iov_base = mem + offsets[i];
        iov[1].iov_len = lengths[i];
        do {
            n = head_len ? writev(fd, iov, 2) : write(fd, iov[1].iov_base, iov[1].iov_len);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            err = errno;
            break;
        }
    }
    status[0] = err;
    NAPI_CALL(env, napi_create_uint32(env, i, &result));
    return result;
}

/*
 * tapReadBatch(fd, buf: Uint8Array, lengths: Uint32Array, frameCap) -> frames read, or -errno
 * when the first read failed (-EAGAIN: nothing pending)
 *
 * Frames land in buf one after the other, each from the next multiple of 8 bytes; at most
 * lengths.length of them, and only while frameCap bytes (the largest frame the tap can give)
 * still fit, so no frame is ever truncated.
 */
napi_value vifd_tap_read_batch(napi_env env, napi_callback_info info)
{
    size_t argc = 4, buf_len, n_len, count;
    napi_value argv[4], result;
    uint8_t *buf;
    uint32_t *lengths, frame_cap;
    int fd, err;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
        vifd_get_typed(env, argv[1], napi_uint8_array, (void **)&buf, &buf_len) < 0 ||
        vifd_get_typed(env, argv[2], napi_uint32_array, (void **)&lengths, &n_len) < 0 ||
        napi_get_value_uint32(env, argv[3], &frame_cap) != napi_ok || frame_cap == 0) {
        napi_throw_type_error(env, "EINVAL", "tapReadBatch(fd, Uint8Array, lengths: Uint32Array, frameCap > 0)");
        return NULL;
    }
    count = vifd_read_frames(fd, buf, buf_len, lengths, n_len, frame_cap, &err);
    NAPI_CALL(env, napi_create_int32(env, count == 0 && err ? -err : (int32_t)count, &result));
    return result;
}
