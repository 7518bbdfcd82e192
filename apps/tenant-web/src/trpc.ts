import { QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
// Only the API router's type crosses to the app (lint enforces it).
import type { AppRouter } from "@hesaab/api";
import { browserSession } from "@hesaab/web-session";

/** The tenant session HesaabPlus signed for this user. */
export const session = browserSession("hesaab.session");

export const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
export const trpcClient = createTRPCClient<AppRouter>({
  links: [
    // live progress (SSE): the browser's EventSource sends no headers, so the session goes as a connection parameter
    splitLink({
      condition: (op) => op.type === "subscription",
      true: httpSubscriptionLink({ url: "/trpc", connectionParams: () => session.connectionParams() }),
      false: httpBatchLink({ url: "/trpc", headers: () => session.headers(), maxItems: 10 /* the gateway's TRPC_MAX_BATCH */ }),
    }),
  ],
});
export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
