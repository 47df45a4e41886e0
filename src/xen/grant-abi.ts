// Xen's grant table numbers (xen/include/public/grant_table.h) and gntdev's copy flags, as the
// native addon spells them in native/grant-abi.h: one source for the C copier and for vifd's
// TypeScript, so the two can never disagree about what a status or a flag means.

import { loadNativeAddon } from '../common/native-addon.js';

const abi = (loadNativeAddon() as { grantAbi: Record<string, number> }).grantAbi;

function take(name: string): number {
  const v = abi[name];
  if (typeof v !== 'number') throw new Error(`native addon: grantAbi.${name} is missing (rebuild with npm install)`);
  return v;
}

export const PAGE_SIZE_GRANTED = take('GRANT_PAGE_SIZE');

/** grant_entry_v1.flags */
export const GTF = {
  invalid: take('GTF_invalid'),
  permit_access: take('GTF_permit_access'),
  accept_transfer: take('GTF_accept_transfer'),
  type_mask: take('GTF_type_mask'),
  readonly: take('GTF_readonly'),
  reading: take('GTF_reading'),
  writing: take('GTF_writing'),
} as const;

/** Per-op statuses of grant operations (GNTST_*). */
export const GNTST = {
  okay: take('GNTST_okay'),
  general_error: take('GNTST_general_error'),
  bad_domain: take('GNTST_bad_domain'),
  bad_gntref: take('GNTST_bad_gntref'),
  bad_handle: take('GNTST_bad_handle'),
  bad_virt_addr: take('GNTST_bad_virt_addr'),
  bad_dev_addr: take('GNTST_bad_dev_addr'),
  no_device_space: take('GNTST_no_device_space'),
  permission_denied: take('GNTST_permission_denied'),
  bad_page: take('GNTST_bad_page'),
  bad_copy_arg: take('GNTST_bad_copy_arg'),
  address_too_big: take('GNTST_address_too_big'),
  eagain: take('GNTST_eagain'),
  no_space: take('GNTST_no_space'),
} as const;

/** GNTTAB_NR_RESERVED_ENTRIES: ref 0 is the console's, ref 1 the xenstore page's. */
export const GNTTAB_NR_RESERVED_ENTRIES = take('GNTTAB_NR_RESERVED_ENTRIES');

/** struct gntdev_grant_copy_segment.flags: which side of a copy segment is a grant. */
export const GNTCOPY = {
  source_gref: take('GNTCOPY_source_gref'),
  dest_gref: take('GNTCOPY_dest_gref'),
} as const;
