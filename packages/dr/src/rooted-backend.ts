import type { GetOptions, ListEntry, ListOptions, ObjectInfo, OpOptions, PutBody, PutOptions, PutResult, StorageBackend } from "@hesaab/storage";

/**
 * A backend whose keys all live under `root` (`"ci-123/"`): every key given is prefixed, every key
 * listed comes back without the prefix. The layout functions of @hesaab/storage (`disaster/…`)
 * then work unchanged inside a shared bucket: tests running at once never see each other's
 * backups, and a bucket can hold disaster backups below a folder.
 */
export function withKeyRoot(inner: StorageBackend, root: string | undefined): StorageBackend {
  if (!root) return inner;
  const prefix = root.endsWith("/") ? root : `${root}/`;
  return {
    name: inner.name,
    put: (key: string, body: PutBody, opts?: PutOptions): Promise<PutResult> => inner.put(prefix + key, body, opts).then((r) => ({ ...r, key })),
    get: (key: string, opts?: GetOptions) => inner.get(prefix + key, opts),
    head: (key: string, opts?: OpOptions): Promise<ObjectInfo | null> => inner.head(prefix + key, opts),
    delete: (key: string, opts?: OpOptions) => inner.delete(prefix + key, opts),
    async *list(listPrefix: string, opts: ListOptions = {}): AsyncIterable<ListEntry> {
      const startAfter = opts.startAfter === undefined ? {} : { startAfter: prefix + opts.startAfter };
      for await (const entry of inner.list(prefix + listPrefix, { ...opts, ...startAfter })) {
        yield { ...entry, key: entry.key.slice(prefix.length) };
      }
    },
  };
}

/** The key as stored in the bucket (for the catalog's locations). */
export function rootedKey(root: string | undefined, key: string): string {
  if (!root) return key;
  return `${root.endsWith("/") ? root : `${root}/`}${key}`;
}
