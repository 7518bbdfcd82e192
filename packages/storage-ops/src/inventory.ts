import { DISASTER_PREFIX, TENANTS_PREFIX, groupArtifacts, type ListEntry, type StorageBackend } from "@hesaab/storage";

/** The layout's top folders: everything a sweep or a rebuild lists. */
export const LAYOUT_PREFIXES = [TENANTS_PREFIX, DISASTER_PREFIX];

/** One artifact key's objects in one provider's listing. */
export interface Listed {
  artifact?: ListEntry;
  keys?: ListEntry;
  meta?: ListEntry;
}

export interface Inventory {
  /** By artifact key. */
  items: Map<string, Listed>;
  /** Keys under the prefixes that are not in the layout. */
  stray: ListEntry[];
}

/** Lists `prefixes` of one provider, grouped per artifact (errors propagate, naming the provider). */
export async function listInventory({
  backend,
  prefixes = LAYOUT_PREFIXES,
  signal,
}: {
  backend: StorageBackend;
  prefixes?: string[];
  signal?: AbortSignal | undefined;
}): Promise<Inventory> {
  const items = new Map<string, Listed>();
  const stray: ListEntry[] = [];
  for (const prefix of prefixes) {
    for await (const item of groupArtifacts(backend.list(prefix, signal ? { signal } : {}), { onStray: (e) => stray.push(e) })) {
      items.set(item.parsed.artifactKey, {
        ...(item.artifact ? { artifact: item.artifact } : {}),
        ...(item.keys ? { keys: item.keys } : {}),
        ...(item.meta ? { meta: item.meta } : {}),
      });
    }
  }
  return { items, stray };
}
