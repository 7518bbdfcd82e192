import { QueryClientProvider, useQuery } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { queryClient, TRPCProvider, trpcClient, useTRPC } from "./trpc";

function Status() {
  const trpc = useTRPC();
  const health = useQuery(trpc.health.queryOptions());
  return <p>Service: {health.data?.ok ? "available" : "checking…"}</p>;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <h1>My data</h1>
        <p>Download a copy of all your business data, once a day.</p>
        <Status />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
