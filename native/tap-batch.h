/* Batched tap I/O shared by the synchronous calls (tap-batch.c) and the poll watcher (poll.c). */
#ifndef VIFD_TAP_BATCH_H
#define VIFD_TAP_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "addon.h"

/* The data and element count of a typed array argument of type `want`; -1 when it is something else. */
int vifd_get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len);

/*
 * Reads frames into buf, each starting on a multiple of 8 bytes (FRAME_ALIGN in JS), until
 * `max` frames, until less than frame_cap bytes of room are left, or until a read fails (its
 * errno in *err, EAGAIN when drained; 0 otherwise). Returns how many frames were read; their
 * lengths are in lens.
 */
size_t vifd_read_frames(int fd, uint8_t *buf, size_t cap, uint32_t *lens, size_t max, size_t frame_cap, int *err);

napi_value vifd_tap_write_gather(napi_env env, napi_callback_info info);
napi_value vifd_uring_open(napi_env env, napi_callback_info info);
napi_value vifd_uring_close(napi_env env, napi_callback_info info);
napi_value vifd_uring_write_gather(napi_env env, napi_callback_info info);
napi_value vifd_tap_read_batch(napi_env env, napi_callback_info info);
napi_value vifd_tap_poll_batch(napi_env env, napi_callback_info info);

#endif
