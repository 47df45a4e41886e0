/* Module registration and error helpers for the vifd native addon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addon.h"
#include "grant-abi.h"
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
    case ESRCH: return "ESRCH";
    case ENXIO: return "ENXIO";
    case EFAULT: return "EFAULT";
    case ENOSPC: return "ENOSPC";
    case ENOTCONN: return "ENOTCONN";
    case E2BIG: return "E2BIG";
    case ENOTTY: return "ENOTTY";
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

static int set_int(napi_env env, napi_value obj, const char *name, int32_t value)
{
    napi_value v;
    return napi_create_int32(env, value, &v) == napi_ok && napi_set_named_property(env, obj, name, v) == napi_ok ? 0 : -1;
}

/* grantAbi: the grant-table numbers of grant-abi.h, for src/xen/grant-abi.ts. */
static napi_value grant_abi(napi_env env)
{
    napi_value abi;
    if (napi_create_object(env, &abi) != napi_ok) return NULL;
#define ABI(name) if (set_int(env, abi, #name, (int32_t)(name)) < 0) return NULL
    ABI(GRANT_PAGE_SIZE);
    ABI(GTF_invalid); ABI(GTF_permit_access); ABI(GTF_accept_transfer); ABI(GTF_type_mask);
    ABI(GTF_readonly); ABI(GTF_reading); ABI(GTF_writing);
    ABI(GNTST_okay); ABI(GNTST_general_error); ABI(GNTST_bad_domain); ABI(GNTST_bad_gntref);
    ABI(GNTST_bad_handle); ABI(GNTST_bad_virt_addr); ABI(GNTST_bad_dev_addr); ABI(GNTST_no_device_space);
    ABI(GNTST_permission_denied); ABI(GNTST_bad_page); ABI(GNTST_bad_copy_arg); ABI(GNTST_address_too_big);
    ABI(GNTST_eagain); ABI(GNTST_no_space);
    ABI(GNTTAB_NR_RESERVED_ENTRIES);
    ABI(GNTCOPY_source_gref); ABI(GNTCOPY_dest_gref);
#undef ABI
    return abi;
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
        { "xenDevOpen", NULL, vifd_xen_dev_open, NULL, NULL, NULL, napi_default, NULL },
        { "gntdevMapRef", NULL, vifd_gntdev_map_ref, NULL, NULL, NULL, napi_default, NULL },
        { "gntdevUnmap", NULL, vifd_gntdev_unmap, NULL, NULL, NULL, napi_default, NULL },
        { "gntdevAttach", NULL, vifd_gntdev_attach, NULL, NULL, NULL, napi_default, NULL },
        { "gntdevCopy", NULL, vifd_gntdev_copy, NULL, NULL, NULL, napi_default, NULL },
        { "evtchnBindInterdomain", NULL, vifd_evtchn_bind_interdomain, NULL, NULL, NULL, napi_default, NULL },
        { "evtchnUnbind", NULL, vifd_evtchn_unbind, NULL, NULL, NULL, napi_default, NULL },
        { "evtchnNotify", NULL, vifd_evtchn_notify, NULL, NULL, NULL, napi_default, NULL },
        { "evtchnPending", NULL, vifd_evtchn_pending, NULL, NULL, NULL, napi_default, NULL },
        { "evtchnUnmask", NULL, vifd_evtchn_unmask, NULL, NULL, NULL, napi_default, NULL },
    };
    NAPI_CALL(env, napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
    napi_value abi = grant_abi(env);
    if (abi == NULL) {
        napi_throw_error(env, "EINTERNAL", "grantAbi: could not build the constants");
        return NULL;
    }
    NAPI_CALL(env, napi_set_named_property(env, exports, "grantAbi", abi));
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
