import { QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
// Only the router's type crosses from the gateway (lint enforces it).
import type { AppRouter } from "@hesaab/gateway/router";

const SESSION_KEY = "hesaab.admin-session";

/**
 * The admin session signed for this super admin (HesaabPlus's admin login, or `hesaab admin
 * session`). It arrives once in the link's fragment (`/admin/#session=…`, which browsers never send
 * to a server), is kept for this tab only, and is removed from the address bar.
 */
export function takeSession(): string | null {
  const fromLink = new URLSearchParams(window.location.hash.slice(1)).get("session");
  if (fromLink) {
    sessionStorage.setItem(SESSION_KEY, fromLink);
    history.replaceState(null, "", window.location.pathname);
  }
  return sessionStorage.getItem(SESSION_KEY);
}

/** Signs in with a pasted token, or out (null). */
export function setSession(token: string | null): void {
  if (token) sessionStorage.setItem(SESSION_KEY, token);
  else sessionStorage.removeItem(SESSION_KEY);
}

export const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
export const trpcClient = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: "/trpc",
      headers: (): Record<string, string> => {
        const session = sessionStorage.getItem(SESSION_KEY);
        return session ? { authorization: `Bearer ${session}` } : {};
      },
    }),
  ],
});
export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
