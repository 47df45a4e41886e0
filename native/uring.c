/*
 * Batches of tap writes through io_uring: a whole batch of writev()s is submitted and reaped with
 * one io_uring_enter() instead of one system call per frame, which on a machine where a system
 * call costs ~190 ns is most of what vifd's tap writes cost beyond the kernel's own work. Raw
 * system calls (no liburing): a ring is three mappings and two indices.
 *
 * uringOpen(entries) -> handle, or null when the kernel refuses io_uring (the caller then
 * writes with writev() itself); uringWriteGather(...) as tapWriteGather, but every frame is
 * written and each one's errno (0 when it went) lands in errnos[i]; uringClose(handle).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addon.h"
#include "tap-batch.h"

typedef struct {
    int fd;
    int broken;         /* a failed io_uring_enter left the ring in an unknown state */
    unsigned entries;
    void *sq_map, *cq_map;
    size_t sq_size, cq_size;
    struct io_uring_sqe *sqes;
    size_t sqes_size;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    struct iovec (*iov)[2];   /* one pair per submission slot, valid until its completion */
} uring;

static void uring_free(uring *r)
{
    if (r->sqes) munmap(r->sqes, r->sqes_size);
    if (r->cq_map && r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_size);
    if (r->sq_map) munmap(r->sq_map, r->sq_size);
    if (r->fd >= 0) close(r->fd);
    free(r->iov);
    free(r);
}

static uring *uring_create(unsigned entries)
{
    struct io_uring_params p;
    uring *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    memset(&p, 0, sizeof(p));
    r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (r->fd < 0) {
        free(r);
        return NULL;
    }
    r->entries = p.sq_entries;
    r->sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    r->sq_map = mmap(NULL, r->sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
    r->cq_map = mmap(NULL, r->cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
    r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
    r->iov = calloc(p.sq_entries, sizeof(*r->iov));
    if (r->sq_map == MAP_FAILED || r->cq_map == MAP_FAILED || r->sqes == MAP_FAILED || !r->iov) {
        if (r->sq_map == MAP_FAILED) r->sq_map = NULL;
        if (r->cq_map == MAP_FAILED) r->cq_map = NULL;
        if (r->sqes == MAP_FAILED) r->sqes = NULL;
        uring_free(r);
        return NULL;
    }
    r->sq_tail = (unsigned *)((char *)r->sq_map + p.sq_off.tail);
    r->sq_mask = (unsigned *)((char *)r->sq_map + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)((char *)r->sq_map + p.sq_off.array);
    r->cq_head = (unsigned *)((char *)r->cq_map + p.cq_off.head);
    r->cq_tail = (unsigned *)((char *)r->cq_map + p.cq_off.tail);
    r->cq_mask = (unsigned *)((char *)r->cq_map + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)((char *)r->cq_map + p.cq_off.cqes);
    return r;
}

static void finalize_uring(napi_env env, void *data, void *hint)
{
    uring **slot = data;
    if (*slot) uring_free(*slot);
    free(slot);
}

/* The ring behind a handle; NULL (with an exception pending) when it is not one or is closed. */
static uring *ring_of(napi_env env, napi_value v)
{
    uring **slot;
    if (napi_get_value_external(env, v, (void **)&slot) != napi_ok || !slot || !*slot) {
        napi_throw_type_error(env, "EINVAL", "not an open io_uring handle");
        return NULL;
    }
    return *slot;
}

napi_value vifd_uring_open(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], handle;
    uint32_t entries;
    uring **slot;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_uint32(env, argv[0], &entries) != napi_ok || entries == 0 || entries > 4096) {
        napi_throw_type_error(env, "EINVAL", "uringOpen(entries: 1..4096)");
        return NULL;
    }
    slot = malloc(sizeof(*slot));
    if (!slot) {
        napi_throw_error(env, "ENOMEM", "uringOpen: out of memory");
        return NULL;
    }
    *slot = uring_create(entries);
    if (!*slot) {
        free(slot);
        NAPI_CALL(env, napi_get_null(env, &handle));
        return handle;
    }
    NAPI_CALL(env, napi_create_external(env, slot, finalize_uring, NULL, &handle));
    return handle;
}

napi_value vifd_uring_close(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    uring **slot;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&slot) != napi_ok || !slot) {
        napi_throw_type_error(env, "EINVAL", "uringClose(handle)");
        return NULL;
    }
    if (*slot) {
        uring_free(*slot);
        *slot = NULL;
    }
    return NULL;
}

/*
 * uringWriteGather(handle, fd, head, memory, offsets, lengths, count, errnos: Int32Array) -> frames written
 *
 * Submits count writev()s of head + memory[offsets[i], +lengths[i]) at once and waits for all
 * of them. A ring that failed is marked broken and every later call throws: its submission
 * queue may hold entries the kernel has not taken.
 */
napi_value vifd_uring_write_gather(napi_env env, napi_callback_info info)
{
    size_t argc = 8, head_len, mem_len, n_off, n_len, n_err;
    napi_value argv[8], result;
    uint8_t *head, *mem;
    uint32_t *offsets, *lengths, count, i, written = 0;
    int32_t *errnos;
    int fd;
    unsigned tail, done = 0, submitted = 0;
    uring *r;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 8) {
        napi_throw_type_error(env, "EINVAL", "uringWriteGather(handle, fd, head, memory, offsets, lengths, count, errnos)");
        return NULL;
    }
    r = ring_of(env, argv[0]);
    if (!r) return NULL;
    if (napi_get_value_int32(env, argv[1], &fd) != napi_ok ||
        vifd_get_typed(env, argv[2], napi_uint8_array, (void **)&head, &head_len) < 0 ||
        vifd_get_typed(env, argv[3], napi_uint8_array, (void **)&mem, &mem_len) < 0 ||
        vifd_get_typed(env, argv[4], napi_uint32_array, (void **)&offsets, &n_off) < 0 ||
        vifd_get_typed(env, argv[5], napi_uint32_array, (void **)&lengths, &n_len) < 0 ||
        napi_get_value_uint32(env, argv[6], &count) != napi_ok ||
        vifd_get_typed(env, argv[7], napi_int32_array, (void **)&errnos, &n_err) < 0) {
        napi_throw_type_error(env, "EINVAL", "uringWriteGather(handle, fd, head: Uint8Array, memory: Uint8Array, "
            "offsets: Uint32Array, lengths: Uint32Array, count, errnos: Int32Array)");
        return NULL;
    }
    if (r->broken) {
        napi_throw_error(env, "EIO", "uringWriteGather: the ring failed earlier");
        return NULL;
    }
    if (count > n_off || count > n_len || count > n_err || count > r->entries) {
        napi_throw_range_error(env, "ERANGE", "uringWriteGather: count exceeds the arrays given or the ring");
        return NULL;
    }
    for (i = 0; i < count; i++) {
        if ((uint64_t)offsets[i] + lengths[i] > mem_len) {
            napi_throw_range_error(env, "ERANGE", "uringWriteGather: a frame lies outside the memory");
            return NULL;
        }
    }
    tail = *r->sq_tail;
    for (i = 0; i < count; i++) {
        unsigned idx = (tail + i) & *r->sq_mask;
        struct io_uring_sqe *e = &r->sqes[idx];
        int n = 0;
        memset(e, 0, sizeof(*e));
        if (head_len) {
            r->iov[idx][n].iov_base = head;
            r->iov[idx][n++].iov_len = head_len;
        }
        r->iov[idx][n].iov_base = mem + offsets[i];
        r->iov[idx][n++].iov_len = lengths[i];
        e->opcode = IORING_OP_WRITEV;
        e->fd = fd;
        e->addr = (uint64_t)(uintptr_t)r->iov[idx];
        e->len = n;
        e->off = (uint64_t)-1;
        /* A full queue answers EAGAIN, as a non-blocking write() does, instead of waiting. */
        e->rw_flags = RWF_NOWAIT;
        e->user_data = i;
        r->sq_array[idx] = idx;
        errnos[i] = 0;
    }
    __atomic_store_n(r->sq_tail, tail + count, __ATOMIC_RELEASE);
    while (done < count) {
        unsigned head_i, cq_tail;
        int rc = (int)syscall(__NR_io_uring_enter, r->fd, count - submitted, count - done, IORING_ENTER_GETEVENTS, NULL, 0);
        if (rc < 0) {
            if (errno == EINTR) continue;
            r->broken = 1;
            vifd_throw_errno(env, "io_uring_enter", errno);
            return NULL;
        }
        submitted += (unsigned)rc;
        head_i = *r->cq_head;
        cq_tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
        for (; head_i != cq_tail; head_i++) {
            struct io_uring_cqe *c = &r->cqes[head_i & *r->cq_mask];
            if (c->user_data < count) {
                errnos[c->user_data] = c->res < 0 ? -c->res : 0;
                if (c->res >= 0) written++;
            }
            done++;
        }
        __atomic_store_n(r->cq_head, head_i, __ATOMIC_RELEASE);
    }
    NAPI_CALL(env, napi_create_uint32(env, written, &result));
    return result;
}
