/*
 * Readability notifications for a file descriptor libuv cannot wrap as a stream
 * (a tap is a character device): a uv_poll_t that calls back into JS, which then
 * drains the fd with tapRead until EAGAIN.
 */
#include <stdlib.h>
#include <uv.h>

#include "addon.h"

typedef struct {
    uv_poll_t poll;
    napi_env env;
    napi_ref callback;
    napi_async_context async;
    int closing;
    int closed;     /* uv_close finished */
    int finalized;  /* the JS handle is gone */
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

static void on_readable(uv_poll_t *poll, int status, int events)
{
    fd_watch *w = poll->data;
    napi_handle_scope scope;
    napi_value cb, recv, result, arg;

    if (w->closing) {
        return;
    }
    napi_open_handle_scope(w->env, &scope);
    napi_get_reference_value(w->env, w->callback, &cb);
    napi_get_global(w->env, &recv);
    napi_create_int32(w->env, status, &arg);
    napi_make_callback(w->env, w->async, recv, cb, 1, &arg, &result);
    napi_close_handle_scope(w->env, scope);
}

static void finalize_watch(napi_env env, void *data, void *hint)
{
    fd_watch *w = data;
    w->finalized = 1;
    if (w->closed) {
        free(w);
    }
}

/* pollStart(fd, callback(status)) -> handle */
napi_value vifd_poll_start(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2], handle, name;
    struct uv_loop_s *loop;
    fd_watch *w;
    int fd, rc;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
        napi_throw_type_error(env, "EINVAL", "pollStart(fd, callback)");
        return NULL;
    }
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
    NAPI_CALL(env, napi_create_reference(env, argv[1], 1, &w->callback));
    NAPI_CALL(env, napi_create_string_utf8(env, "vifd:fd-poll", NAPI_AUTO_LENGTH, &name));
    NAPI_CALL(env, napi_async_init(env, NULL, name, &w->async));
    rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        napi_throw_error(env, "EINVAL", uv_strerror(rc));
        return NULL;
    }
    NAPI_CALL(env, napi_create_external(env, w, finalize_watch, NULL, &handle));
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
    uv_poll_stop(&w->poll);
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->async);
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return NULL;
}
