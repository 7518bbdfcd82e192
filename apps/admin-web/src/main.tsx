import { QueryClientProvider, useQuery } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { queryClient, TRPCProvider, trpcClient, useTRPC } from "./trpc";

function Backups() {
  const trpc = useTRPC();
  const backups = useQuery(trpc.backups.list.queryOptions({ limit: 100 }));
  if (backups.isPending) return <p>Loading backups…</p>;
  if (backups.isError) return <p role="alert">Could not load backups: {backups.error.message}</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>Backup</th>
          <th>Tenant</th>
          <th>Status</th>
          <th>Verification</th>
          <th>Size</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {backups.data.map((b) => (
          <tr key={b.id}>
            <td>{b.id}</td>
            <td>{b.tenantId ?? "platform"}</td>
            <td>{b.status}</td>
            <td>{b.verification}</td>
            <td>{b.size.toLocaleString()} B</td>
            <td>{new Date(b.createdAt).toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <h1>HesaabPlus Backup</h1>
        <Backups />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
