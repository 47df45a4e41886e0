/*
 * Readability notifications for a file descriptor libuv cannot wrap as a stream
 * (a tap is a character device): a uv_poll_t that calls back into JS, which then
 * drains the fd with tapRead until EAGAIN. In batch mode (tapPollBatch) the watcher
 * reads the frames itself and calls back once per wake-up with how many it read.
 */
#include <errno.h>
#include <stdlib.h>
#include <uv.h>

#include "addon.h"
#include "tap-batch.h"

typedef struct {
    uv_poll_t poll;
    napi_env env;
    napi_ref callback;
    napi_async_context async;
    int closing;
    int closed;     /* uv_close finished */
    int finalized;  /* the JS handle is gone */
    /* batch mode: where frames are read to, and the largest frame the fd can give */
    napi_ref buf;
    napi_ref lens;
    uint32_t frame_cap;
} fd_watch;

/* The struct is shared by libuv and the JS handle: freed once both are done with it. */
static void on_closed(uv_handle_t *handle)
{
    fd_watch *w = handle->data;
    w->closed = 1;
    if (w->finalized) {
        free(w);
    }
}

/* Batch mode: reads what is pending into the watch's buffer; args are (count, errno). */
static int read_batch(fd_watch *w, int status, napi_value *args)
{
    napi_value v;
    uint8_t *buf;
    uint32_t *lens;
    size_t cap, max, count = 0;
    int err = status < 0 ? -status : EINVAL;  /* unless the read below says otherwise */
    uv_os_fd_t fd;

    if (status == 0 && uv_fileno((uv_handle_t *)&w->poll, &fd) == 0 &&
        napi_get_reference_value(w->env, w->buf, &v) == napi_ok &&
        vifd_get_typed(w->env, v, napi_uint8_array, (void **)&buf, &cap) == 0 &&
        napi_get_reference_value(w->env, w->lens, &v) == napi_ok &&
        vifd_get_typed(w->env, v, napi_uint32_array, (void **)&lens, &max) == 0) {
        count = vifd_read_frames(fd, buf, cap, lens, max, w->frame_cap, &err);
        if (err == EAGAIN) {
            err = 0;
        }
    }
    napi_create_uint32(w->env, (uint32_t)count, &args[0]);
    napi_create_int32(w->env, err, &args[1]);
    return 2;
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
    fd_watch *w = poll->data;
    napi_handle_scope scope;
    napi_value cb, recv, result, args[2];
    int argc = 1;

    if (w->closing) {
        return;
    }
    napi_open_handle_scope(w->env, &scope);
    napi_get_reference_value(w->env, w->callback, &cb);
    napi_get_global(w->env, &recv);
    if (w->buf) {
        argc = read_batch(w, status, args);
    } else {
        napi_create_int32(w->env, status, &args[0]);
    }
    napi_make_callback(w->env, w->async, recv, cb, argc, args, &result);
    napi_close_handle_scope(w->env, scope);
}

/*
 * The environment is going (a worker thread ends) with the watch still started: its handle
 * must be closed before the thread's loop is, or Node aborts. JS is no longer called then, so
 * only libuv is touched; the references go with the environment.
 */
static void cleanup_watch(void *arg)
{
    fd_watch *w = arg;
    if (w->closing) {
        return;
    }
    w->closing = 1;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void finalize_watch(napi_env env, void *data, void *hint)
{
    fd_watch *w = data;
    w->finalized = 1;
    if (w->closed) {
        free(w);
    }
}

/* A started watch on fd calling `callback`; NULL with an exception pending on failure. */
static fd_watch *start_watch(napi_env env, int fd, napi_value callback, napi_value *handle)
{
    napi_value name;
    struct uv_loop_s *loop;
    fd_watch *w;
    int rc;

    NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
    w = calloc(1, sizeof(*w));
    if (!w) {
        napi_throw_error(env, "ENOMEM", "pollStart: out of memory");
        return NULL;
    }
    w->env = env;
    rc = uv_poll_init(loop, &w->poll, fd);
    if (rc < 0) {
        free(w);
        napi_throw_error(env, "EINVAL", uv_strerror(rc));
        return NULL;
    }
    w->poll.data = w;
    NAPI_CALL(env, napi_create_reference(env, callback, 1, &w->callback));
    NAPI_CALL(env, napi_create_string_utf8(env, "vifd:fd-poll", NAPI_AUTO_LENGTH, &name));
    NAPI_CALL(env, napi_async_init(env, NULL, name, &w->async));
    rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        napi_throw_error(env, "EINVAL", uv_strerror(rc));
        return NULL;
    }
    NAPI_CALL(env, napi_create_external(env, w, finalize_watch, NULL, handle));
    NAPI_CALL(env, napi_add_env_cleanup_hook(env, cleanup_watch, w));
    return w;
}

/* pollStart(fd, callback(status)) -> handle */
napi_value vifd_poll_start(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2], handle;
    int fd;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
        napi_throw_type_error(env, "EINVAL", "pollStart(fd, callback)");
        return NULL;
    }
    return start_watch(env, fd, argv[1], &handle) ? handle : NULL;
}

/*
 * tapPollBatch(fd, buf: Uint8Array, lengths: Uint32Array, frameCap, callback(count, errno)) -> handle
 *
 * On each wake-up reads up to lengths.length frames back to back into buf (as tapReadBatch),
 * then calls back once: count frames are in buf, errno is a read error that stopped the
 * batch (0 when it drained the fd or filled the batch). Stopped with pollStop.
 */
napi_value vifd_tap_poll_batch(napi_env env, napi_callback_info info)
{
    size_t argc = 5, len;
    napi_value argv[5], handle;
    void *data;
    uint32_t frame_cap;
    fd_watch *w;
    int fd;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 5 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
        vifd_get_typed(env, argv[1], napi_uint8_array, &data, &len) < 0 ||
        vifd_get_typed(env, argv[2], napi_uint32_array, &data, &len) < 0 ||
        napi_get_value_uint32(env, argv[3], &frame_cap) != napi_ok || frame_cap == 0) {
        napi_throw_type_error(env, "EINVAL", "tapPollBatch(fd, Uint8Array, lengths: Uint32Array, frameCap > 0, callback)");
        return NULL;
    }
    w = start_watch(env, fd, argv[4], &handle);
    if (!w) {
        return NULL;
    }
    w->frame_cap = frame_cap;
    NAPI_CALL(env, napi_create_reference(env, argv[1], 1, &w->buf));
    NAPI_CALL(env, napi_create_reference(env, argv[2], 1, &w->lens));
    return handle;
}

/* pollStop(handle): idempotent */
napi_value vifd_poll_stop(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    fd_watch *w;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&w) != napi_ok || !w) {
        napi_throw_type_error(env, "EINVAL", "pollStop(handle)");
        return NULL;
    }
    if (w->closing) {
        return NULL;
    }
    w->closing = 1;
    napi_remove_env_cleanup_hook(env, cleanup_watch, w);
    uv_poll_stop(&w->poll);
    napi_delete_reference(env, w->callback);
    if (w->buf) {
        napi_delete_reference(env, w->buf);
        napi_delete_reference(env, w->lens);
    }
    napi_async_destroy(env, w->async);
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return NULL;
}
