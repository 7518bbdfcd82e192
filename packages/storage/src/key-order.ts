/** Compare two keys in the order `StorageBackend.list` promises: byte order of their UTF-8 encoding (as S3 lists). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
