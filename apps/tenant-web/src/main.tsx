import { QueryClientProvider, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { queryClient, session, TRPCProvider, trpcClient, useTRPC } from "./trpc";

const STATUS: Record<string, string> = {
  pending: "Preparing…",
  running: "Preparing…",
  ready: "Ready",
  failed: "Failed",
  expired: "Expired (kept 24 hours)",
};

function size(bytes: number | null): string {
  if (bytes === null) return "";
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(0)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A copy being prepared, live (the gateway relays its progress events over SSE): percent, rows so far. */
function Preparing({ exportId, onEnd }: { exportId: string; onEnd: () => void }) {
  const trpc = useTRPC();
  const progress = useSubscription(
    trpc.tenant.exports.progress.subscriptionOptions(
      { exportId },
      {
        onData: ({ data }) => {
          if (data.final) onEnd();
        },
      },
    ),
  );
  const view = progress.data?.data;
  const rows = view?.rows !== undefined ? `, ${view.rows.toLocaleString()} rows` : "";
  return <>{view?.percent !== undefined ? `Preparing… ${Math.round(view.percent)}%${rows}` : STATUS.pending}</>;
}

function MyData() {
  const trpc = useTRPC();
  const client = useQueryClient();
  const me = useQuery(trpc.tenant.me.queryOptions());
  const exports = useQuery({
    ...trpc.tenant.exports.list.queryOptions(),
    enabled: me.isSuccess,
    // while one is being prepared, look again every few seconds; download links last 15 minutes: renew them
    refetchInterval: (q) => {
      const exports = q.state.data?.exports ?? [];
      if (exports.some((e) => e.status === "pending" || e.status === "running")) return 3000;
      return exports.some((e) => e.downloadUrl) ? 5 * 60_000 : false;
    },
  });
  const request = useMutation(
    trpc.tenant.exports.request.mutationOptions({
      onSettled: () => client.invalidateQueries({ queryKey: trpc.tenant.exports.list.queryKey() }),
    }),
  );

  if (me.isPending) return <p>Signing in…</p>;
  if (me.isError) {
    return <p role="alert">{me.error.message}. Open this page from HesaabPlus (Settings → My data), which signs you in.</p>;
  }
  const askedToday = exports.data?.askedToday ?? false;
  // the session's role decides who may ask (CUSTOMER_EXPORT_ROLES): the others are told why, and whom to ask
  const { canExport, exportRefusal } = me.data;
  const list = exports.data?.exports;
  return (
    <>
      <p>
        A copy of all your business data, as a ZIP file: one spreadsheet (CSV) per table, a README, and a SQL file for PostgreSQL. Once a day; the download link
        works for 24 hours.
      </p>
      <button
        type="button"
        disabled={request.isPending || askedToday || !canExport}
        onClick={() => request.mutate()}
        aria-describedby={canExport ? undefined : "export-refusal"}
      >
        {askedToday ? "Today's copy has been asked for" : request.isPending ? "Asking…" : "Prepare a copy of my data"}
      </button>
      {!canExport && exportRefusal && <p id="export-refusal">{exportRefusal}</p>}
      {request.isError && <p role="alert">{request.error.message}</p>}
      <h2>My copies</h2>
      {exports.isError && <p role="alert">Could not load your copies: {exports.error.message}</p>}
      {list?.length === 0 && <p>None yet.</p>}
      {list && list.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Day</th>
              <th>Status</th>
              <th>Size</th>
              <th>Available until</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((e) => (
              <tr key={e.id}>
                <td>{e.day}</td>
                <td>
                  {e.status === "pending" || e.status === "running" ? (
                    <Preparing exportId={e.id} onEnd={() => void client.invalidateQueries({ queryKey: trpc.tenant.exports.list.queryKey() })} />
                  ) : (
                    (STATUS[e.status] ?? e.status)
                  )}
                </td>
                <td>{size(e.size)}</td>
                <td>{e.expiresAt && e.status === "ready" ? new Date(e.expiresAt).toLocaleString() : ""}</td>
                <td>{e.downloadUrl ? <a href={e.downloadUrl}>Download{e.downloads > 0 ? ` (downloaded ${e.downloads}×)` : ""}</a> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

session.take();
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <h1>My data</h1>
        <MyData />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
