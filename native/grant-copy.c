/*
 * GNTTABOP_copy in batches: what Xen does for a hypercall's array of copy ops, for a domain
 * whose grant entries and memory are SharedArrayBuffers (src/xen/grant-table.ts,
 * guest-memory.ts). One N-API crossing checks and copies a whole sweep's slots; in JS each
 * copy cost a view on the guest's memory, which on a growable buffer costs more than copying
 * a small frame.
 *
 * Each op is checked as src/xen/grant-table.ts checks one, in the same order and with the same
 * GNTST status; the entry is read once, so the frame copied is the frame checked whatever the
 * guest writes meanwhile. Guest bytes may change under the copy (the guest runs on another
 * thread): Xen's copy makes no promise about that either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"
#include "grant-abi.h"
#include "tap-batch.h"

#define PAGE_SIZE GRANT_PAGE_SIZE

/* Ints per op in the ops array: ref, page offset, local offset, length, status (written here). */
#define OP_INTS 5

/* A domain's table as the grantee's thread sees it; the references keep the buffers alive. */
struct grant_table {
    const uint8_t *entries;
    uint32_t nr_entries;
    uint8_t *pages;
    uint32_t max_pages;
    const int32_t *watermark;
    /* Tests' audit: per frame, 1 once a copy read it, 2 once one wrote it (NULL: none kept). */
    uint8_t *audit;
    size_t audit_len;
    napi_ref refs[4];
    int nrefs;
};

static void table_finalize(napi_env env, void *data, void *hint)
{
    struct grant_table *t = data;
    for (int i = 0; i < t->nrefs; i++) napi_delete_reference(env, t->refs[i]);
    free(t);
}

/*
 * grantTableOpen(entries: Uint8Array, pages: Uint8Array, watermark: Int32Array, maxPages
 *                [, audit: Uint8Array]) -> handle
 *
 * `pages` views the whole of a growable SharedArrayBuffer: its memory is reserved up to
 * maxPages at creation and never moves, and frames below the watermark are committed. With
 * `audit`, every frame a copy touches is marked there (read 1, written 2): what the hostile
 * guest's tests check against what the guest had granted.
 */
napi_value vifd_grant_table_open(napi_env env, napi_callback_info info)
{
    size_t argc = 5;
    napi_value argv[5], handle;
    size_t entries_len, pages_len, wm_len, audit_len = 0;
    void *entries, *pages, *wm, *audit = NULL;
    uint32_t max_pages;
    napi_valuetype audit_type = napi_undefined;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc >= 5) NAPI_CALL(env, napi_typeof(env, argv[4], &audit_type));
    if (argc < 4 ||
        vifd_get_typed(env, argv[0], napi_uint8_array, &entries, &entries_len) < 0 ||
        vifd_get_typed(env, argv[1], napi_uint8_array, &pages, &pages_len) < 0 ||
        vifd_get_typed(env, argv[2], napi_int32_array, &wm, &wm_len) < 0 || wm_len < 1 ||
        napi_get_value_uint32(env, argv[3], &max_pages) != napi_ok ||
        (audit_type != napi_undefined && audit_type != napi_null &&
         vifd_get_typed(env, argv[4], napi_uint8_array, &audit, &audit_len) < 0)) {
        napi_throw_type_error(env, "EINVAL",
            "grantTableOpen(entries: Uint8Array, pages: Uint8Array, watermark: Int32Array, maxPages[, audit: Uint8Array])");
        return NULL;
    }
    if (pages == NULL && max_pages > 0) {
        napi_throw_range_error(env, "EINVAL", "grantTableOpen: the pages' buffer has no memory reserved");
        return NULL;
    }
    struct grant_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        vifd_throw_errno(env, "grantTableOpen", 12 /* ENOMEM */);
        return NULL;
    }
    t->entries = entries;
    t->nr_entries = (uint32_t)(entries_len / 8);
    t->pages = pages;
    t->max_pages = max_pages;
    t->watermark = wm;
    t->audit = audit;
    t->audit_len = audit != NULL ? audit_len : 0;
    /* The buffers to keep alive: entries, pages, watermark and the audit (argv[3] is a number). */
    static const int held[] = { 0, 1, 2, 4 };
    int nrefs = audit != NULL ? 4 : 3;
    for (int i = 0; i < nrefs; i++) {
        if (napi_create_reference(env, argv[held[i]], 1, &t->refs[i]) != napi_ok) {
            while (--i >= 0) napi_delete_reference(env, t->refs[i]);
            free(t);
            napi_throw_error(env, "EINTERNAL", "grantTableOpen: napi_create_reference failed");
            return NULL;
        }
        t->nrefs = i + 1;
    }
    if (napi_create_external(env, t, table_finalize, NULL, &handle) != napi_ok) {
        table_finalize(env, t, NULL);
        napi_throw_error(env, "EINTERNAL", "grantTableOpen: napi_create_external failed");
        return NULL;
    }
    return handle;
}

/* The frame `ref` grants to `grantee` (>= 0), or a negative GNTST status. */
static int64_t check_entry(const struct grant_table *t, uint32_t ref, uint32_t grantee, int writable)
{
    if (ref >= t->nr_entries) return GNTST_bad_gntref;
    /* One 8-byte read: flags, domid and frame from the same moment. */
    uint64_t e = __atomic_load_n((const uint64_t *)(t->entries + (size_t)ref * 8), __ATOMIC_RELAXED);
    uint32_t flags = (uint32_t)(e & 0xffff);
    uint32_t domid = (uint32_t)((e >> 16) & 0xffff);
    uint32_t frame = (uint32_t)(e >> 32);
    if ((flags & GTF_type_mask) != GTF_permit_access) return GNTST_bad_gntref;
    if (domid != grantee) return GNTST_permission_denied;
    if (writable && (flags & GTF_readonly)) return GNTST_permission_denied;
    /* Frames below the watermark exist: it is published only after the buffer has grown. */
    uint32_t known = (uint32_t)__atomic_load_n(t->watermark, __ATOMIC_ACQUIRE);
    if (frame >= known || frame >= t->max_pages) return GNTST_bad_page;
    return frame;
}

/*
 * grantCopy(table, grantee, toPage: boolean, ops: Int32Array, count, local: Uint8Array) -> failures
 *
 * Op i is ops[5i .. 5i+4]: ref, offset in the granted page, offset in `local`, length, and the
 * GNTST status written back. toPage copies local -> granted page (which must be writable), else
 * granted page -> local. Ops fail one by one, as Xen's do; returns how many failed.
 */
napi_value vifd_grant_copy(napi_env env, napi_callback_info info)
{
    size_t argc = 6;
    napi_value argv[6], result;
    void *handle;
    uint32_t grantee, count;
    bool to_page;
    int32_t *ops;
    uint8_t *local;
    size_t n_ops, local_len;

    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 6 || napi_get_value_external(env, argv[0], &handle) != napi_ok ||
        napi_get_value_uint32(env, argv[1], &grantee) != napi_ok ||
        napi_get_value_bool(env, argv[2], &to_page) != napi_ok ||
        vifd_get_typed(env, argv[3], napi_int32_array, (void **)&ops, &n_ops) < 0 ||
        napi_get_value_uint32(env, argv[4], &count) != napi_ok ||
        vifd_get_typed(env, argv[5], napi_uint8_array, (void **)&local, &local_len) < 0) {
        napi_throw_type_error(env, "EINVAL",
            "grantCopy(table, grantee, toPage: boolean, ops: Int32Array, count, local: Uint8Array)");
        return NULL;
    }
    if ((size_t)count * OP_INTS > n_ops) {
        napi_throw_range_error(env, "ERANGE", "grantCopy: count exceeds the ops given");
        return NULL;
    }
    const struct grant_table *t = handle;
    uint32_t failures = 0;
    for (uint32_t i = 0; i < count; i++) {
        int32_t *op = ops + (size_t)i * OP_INTS;
        int64_t offset = op[1], local_offset = op[2], len = op[3];
        int64_t frame;
        if (offset < 0 || len < 0 || offset + len > PAGE_SIZE || local_offset < 0 ||
            local_offset + len > (int64_t)local_len) {
            frame = GNTST_bad_copy_arg;
        } else {
            frame = check_entry(t, (uint32_t)op[0], grantee, to_page);
        }
        if (frame < 0) {
            op[4] = (int32_t)frame;
            failures++;
            continue;
        }
        uint8_t *page = t->pages + (size_t)frame * PAGE_SIZE + offset;
        if (to_page) memcpy(page, local + local_offset, (size_t)len);
        else memcpy(local + local_offset, page, (size_t)len);
        if ((size_t)frame < t->audit_len) t->audit[frame] |= to_page ? 2 : 1;
        op[4] = GNTST_okay;
    }
    napi_create_uint32(env, failures, &result);
    return result;
}
