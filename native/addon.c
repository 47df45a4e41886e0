/* Module registration and error helpers for the vifd native addon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addon.h"
#include "tap-batch.h"

static const char *errno_name(int err)
{
    switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case ENODEV: return "ENODEV";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case EIO: return "EIO";
    case ENOMEM: return "ENOMEM";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EMSGSIZE: return "EMSGSIZE";
    case EADDRINUSE: return "EADDRINUSE";
    case ECONNREFUSED: return "ECONNREFUSED";
    default: return "EUNKNOWN";
    }
}

void vifd_throw_errno(napi_env env, const char *what, int err)
{
    char msg[256];
    napi_value code, message, error, errnum;

    snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
    napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &error);
    napi_create_int32(env, err, &errnum);
    napi_set_named_property(env, error, "errno", errnum);
    napi_throw(env, error);
}

static napi_value init(napi_env env, napi_value exports)
{
    napi_property_descriptor props[] = {
        { "tapOpen", NULL, vifd_tap_open, NULL, NULL, NULL, napi_default, NULL },
        { "tapRead", NULL, vifd_tap_read, NULL, NULL, NULL, napi_default, NULL },
        { "tapWrite", NULL, vifd_tap_write, NULL, NULL, NULL, napi_default, NULL },
        { "tapWriteGather", NULL, vifd_tap_write_gather, NULL, NULL, NULL, napi_default, NULL },
        { "uringOpen", NULL, vifd_uring_open, NULL, NULL, NULL, napi_default, NULL },
        { "uringClose", NULL, vifd_uring_close, NULL, NULL, NULL, napi_default, NULL },
        { "uringWriteGather", NULL, vifd_uring_write_gather, NULL, NULL, NULL, napi_default, NULL },
        { "tapReadBatch", NULL, vifd_tap_read_batch, NULL, NULL, NULL, napi_default, NULL },
        { "tapPollBatch", NULL, vifd_tap_poll_batch, NULL, NULL, NULL, napi_default, NULL },
        { "close", NULL, vifd_fd_close, NULL, NULL, NULL, napi_default, NULL },
        { "linkSetUp", NULL, vifd_link_set_up, NULL, NULL, NULL, napi_default, NULL },
        { "pollStart", NULL, vifd_poll_start, NULL, NULL, NULL, napi_default, NULL },
        { "pollStop", NULL, vifd_poll_stop, NULL, NULL, NULL, napi_default, NULL },
        { "tapSetCarrier", NULL, vifd_tap_set_carrier, NULL, NULL, NULL, napi_default, NULL },
        { "tapSetOffload", NULL, vifd_tap_set_offload, NULL, NULL, NULL, napi_default, NULL },
        { "unixDgramOpen", NULL, vifd_unix_dgram_open, NULL, NULL, NULL, napi_default, NULL },
        { "unixDgramSend", NULL, vifd_unix_dgram_send, NULL, NULL, NULL, napi_default, NULL },
        { "grantTableOpen", NULL, vifd_grant_table_open, NULL, NULL, NULL, napi_default, NULL },
        { "grantCopy", NULL, vifd_grant_copy, NULL, NULL, NULL, napi_default, NULL },
    };
    NAPI_CALL(env, napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
