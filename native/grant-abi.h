/*
 * Xen's grant table ABI as xen/include/public/grant_table.h defines it (v1 entries, GNTST_*
 * statuses) and Linux's gntdev copy flags (include/uapi/xen/gntdev.h). The one place vifd
 * spells these numbers: the copier below checks with them, and src/xen/grant-abi.ts takes
 * them from the addon (grantAbi) rather than writing them out again.
 */
#ifndef VIFD_GRANT_ABI_H
#define VIFD_GRANT_ABI_H

#define GRANT_PAGE_SIZE 4096u

/* grant_entry_v1.flags */
#define GTF_invalid 0u
#define GTF_permit_access 1u
#define GTF_accept_transfer 2u
#define GTF_transfer_committed 2u
#define GTF_type_mask 3u
#define GTF_readonly (1u << 2)
#define GTF_reading (1u << 3)
#define GTF_writing (1u << 4)

/* GNTST_*: per-op statuses */
#define GNTST_okay 0
#define GNTST_general_error (-1)
#define GNTST_bad_domain (-2)
#define GNTST_bad_gntref (-3)
#define GNTST_bad_handle (-4)
#define GNTST_bad_virt_addr (-5)
#define GNTST_bad_dev_addr (-6)
#define GNTST_no_device_space (-7)
#define GNTST_permission_denied (-8)
#define GNTST_bad_page (-9)
#define GNTST_bad_copy_arg (-10)
#define GNTST_address_too_big (-11)
#define GNTST_eagain (-12)
#define GNTST_no_space (-13)

/* GNTTAB_NR_RESERVED_ENTRIES: ref 0 is the console's, ref 1 the xenstore page's */
#define GNTTAB_NR_RESERVED_ENTRIES 8

/* struct gntdev_grant_copy_segment.flags */
#define GNTCOPY_source_gref (1u << 0)
#define GNTCOPY_dest_gref (1u << 1)

#endif
