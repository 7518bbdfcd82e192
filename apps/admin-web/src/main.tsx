import { QueryClientProvider, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { StrictMode, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { queryClient, setSession, takeSession, TRPCProvider, trpcClient, useTRPC } from "./trpc";

function Backups() {
  const trpc = useTRPC();
  const backups = useQuery({ ...trpc.backups.list.queryOptions({ limit: 100 }), refetchInterval: 10_000 });
  if (backups.isPending) return <p>Loading backups…</p>;
  if (backups.isError) return <p role="alert">Could not load backups: {backups.error.message}</p>;
  if (backups.data.length === 0) return <p>No backups yet.</p>;
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

/** Queues an on-demand backup of the tenants given (ids separated by spaces, commas or lines). */
function BackUpNow() {
  const trpc = useTRPC();
  const client = useQueryClient();
  const [ids, setIds] = useState("");
  const create = useMutation(
    trpc.backups.create.mutationOptions({
      onSuccess: () => {
        setIds("");
        void client.invalidateQueries({ queryKey: trpc.backups.list.queryKey() });
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const tenantIds = ids.split(/[\s,]+/).filter(Boolean);
    if (tenantIds.length > 0) create.mutate({ tenantIds });
  };
  return (
    <form onSubmit={submit}>
      <label>
        Back up now, tenant ids: <input value={ids} onChange={(e) => setIds(e.target.value)} placeholder="3f2b8a4e-… 9c1d…" size={60} />
      </label>{" "}
      <button type="submit" disabled={create.isPending || ids.trim() === ""}>
        {create.isPending ? "Queueing…" : "Back up"}
      </button>
      {create.isSuccess && <span> queued {create.data.queued}</span>}
      {create.isError && <p role="alert">{create.error.message}</p>}
    </form>
  );
}

function SignIn({ reason }: { reason: string }) {
  const [token, setToken] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSession(token.trim());
    void queryClient.resetQueries();
  };
  return (
    <form onSubmit={submit}>
      <p role="alert">{reason}.</p>
      <p>
        Open the admin app from HesaabPlus's admin login, or paste a session an operator made with <code>pnpm hesaab admin session --user you</code>:
      </p>
      <input value={token} onChange={(e) => setToken(e.target.value)} placeholder="admin1.…" size={60} aria-label="admin session" />{" "}
      <button type="submit" disabled={token.trim() === ""}>
        Sign in
      </button>
    </form>
  );
}

function App() {
  const trpc = useTRPC();
  const me = useQuery(trpc.admin.me.queryOptions());
  if (me.isPending) return <p>Signing in…</p>;
  if (me.isError) return <SignIn reason={me.error.message} />;
  const signOut = () => {
    setSession(null);
    void queryClient.resetQueries();
  };
  return (
    <>
      <p>
        Signed in as {me.data.userId}{" "}
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </p>
      <BackUpNow />
      <Backups />
    </>
  );
}

takeSession();
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <h1>HesaabPlus Backup</h1>
        <App />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
