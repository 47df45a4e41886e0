/* Shared declarations of the vifd native addon: N-API glue helpers. */
#ifndef VIFD_ADDON_H
#define VIFD_ADDON_H

#define NAPI_VERSION 8
#include <node_api.h>

/* Throws a JS Error whose `code` is the errno name and whose message has the failing call as context. */
void vifd_throw_errno(napi_env env, const char *what, int err);

napi_value vifd_tap_open(napi_env env, napi_callback_info info);
napi_value vifd_tap_read(napi_env env, napi_callback_info info);
napi_value vifd_tap_write(napi_env env, napi_callback_info info);
napi_value vifd_fd_close(napi_env env, napi_callback_info info);
napi_value vifd_link_set_up(napi_env env, napi_callback_info info);
napi_value vifd_poll_start(napi_env env, napi_callback_info info);
napi_value vifd_poll_stop(napi_env env, napi_callback_info info);
napi_value vifd_tap_set_carrier(napi_env env, napi_callback_info info);
napi_value vifd_tap_set_offload(napi_env env, napi_callback_info info);
napi_value vifd_unix_dgram_open(napi_env env, napi_callback_info info);
napi_value vifd_unix_dgram_send(napi_env env, napi_callback_info info);
napi_value vifd_grant_table_open(napi_env env, napi_callback_info info);
napi_value vifd_grant_copy(napi_env env, napi_callback_info info);
napi_value vifd_xen_dev_open(napi_env env, napi_callback_info info);
napi_value vifd_gntdev_map_ref(napi_env env, napi_callback_info info);
napi_value vifd_gntdev_unmap(napi_env env, napi_callback_info info);
napi_value vifd_gntdev_attach(napi_env env, napi_callback_info info);
napi_value vifd_gntdev_copy(napi_env env, napi_callback_info info);
napi_value vifd_evtchn_bind_interdomain(napi_env env, napi_callback_info info);
napi_value vifd_evtchn_unbind(napi_env env, napi_callback_info info);
napi_value vifd_evtchn_notify(napi_env env, napi_callback_info info);
napi_value vifd_evtchn_pending(napi_env env, napi_callback_info info);
napi_value vifd_evtchn_unmask(napi_env env, napi_callback_info info);

#define NAPI_CALL(env, call)                                   \
    do {                                                       \
        if ((call) != napi_ok) {                               \
            napi_throw_error((env), "EINTERNAL", #call " failed"); \
            return NULL;                                       \
        }                                                      \
    } while (0)

#endif
