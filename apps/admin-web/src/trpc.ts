import { QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
// Only the router's type crosses from the gateway (lint enforces it).
import type { AppRouter } from "@hesaab/gateway/router";

export const queryClient = new QueryClient();
export const trpcClient = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: "/trpc" })] });
export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
