import { useSyncExternalStore } from "react";

/** The screens, each at a hash route so a page can be linked (`/admin/#/restore`): the gateway serves one index.html under /admin/. */
export const SCREENS = [
  { path: "/backups", label: "Backups" },
  { path: "/tenants", label: "Tenants" },
  { path: "/restore", label: "Restore" },
  { path: "/disaster-recovery", label: "Disaster recovery" },
  { path: "/storage", label: "Storage" },
  { path: "/verification", label: "Verification" },
  { path: "/retention", label: "Retention" },
  { path: "/keys", label: "Keys" },
  { path: "/drills", label: "Drills" },
  { path: "/alerts", label: "Alerts" },
  { path: "/audit", label: "Audit" },
] as const;
/** Pages reached from a screen, not the navigation: a tenant's page is `#/tenants/<id>`. */
export type ScreenPath = (typeof SCREENS)[number]["path"] | "/tenant";

/** The route in the hash, e.g. `#/tenants?search=acme` → { path: "/tenants", params }. A session hash (`#session=…`) is no route. */
export function parseHash(hash: string): { path: ScreenPath; params: URLSearchParams } {
  const raw = hash.replace(/^#/, "");
  const [path = "", query = ""] = raw.split("?");
  const params = new URLSearchParams(query);
  const tenant = /^\/tenants\/([^/]+)$/.exec(path);
  if (tenant) {
    params.set("id", decodeURIComponent(tenant[1]!));
    return { path: "/tenant", params };
  }
  const known = SCREENS.find((s) => s.path === path);
  return { path: known?.path ?? "/backups", params };
}

const subscribe = (onChange: () => void) => {
  window.addEventListener("hashchange", onChange);
  return () => window.removeEventListener("hashchange", onChange);
};

/** The current route; re-renders on navigation (links, back, forward). */
export function useRoute() {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseHash(hash);
}

export const hrefOf = (path: ScreenPath, params?: Record<string, string>) => {
  const q = params ? new URLSearchParams(params).toString() : "";
  return `#${path}${q ? `?${q}` : ""}`;
};

/** A tenant's page. */
export const tenantHref = (id: string) => `#/tenants/${encodeURIComponent(id)}`;
