// Paths the platform itself owns.

export function domainPathOf(domid: number): string {
  return `/local/domain/${domid}`;
}
