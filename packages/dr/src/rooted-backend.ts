/** The key as stored in the bucket (for the catalog's locations). */
export function rootedKey(root: string | undefined, key: string): string {
  if (!root) return key;
  return `${root.endsWith("/") ? root : `${root}/`}${key}`;
}
