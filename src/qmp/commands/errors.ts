// What a handler may read off a value something below it threw: thrown values are unknown,
// so they are narrowed here, once, instead of cast where they are caught.

/** The errno name a thrown error carries in `code` (XsError's, Node's system errors'), if any. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** A thrown error's message; anything else thrown, as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
