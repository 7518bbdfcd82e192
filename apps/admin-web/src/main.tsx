import { QueryClientProvider, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { StrictMode, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { queryClient, session, TRPCProvider, trpcClient, useTRPC } from "./trpc";

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
      {create.isSuccess && <span> queued {create.data.queued.length}</span>}
      {create.isSuccess && create.data.refused.length > 0 && (
        <div role="alert">
          <p>Not queued ({create.data.refused.length}):</p>
          <ul aria-label="refused tenant ids">
            {create.data.refused.map((r) => (
              <li key={r.tenantId}>
                <code>{r.tenantId}</code>: {r.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {create.isError && <p role="alert">{create.error.message}</p>}
    </form>
  );
}

const bytes = (n: number): string =>
  n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`;

function Storage() {
  const trpc = useTRPC();
  const storage = useQuery(trpc.storage.analytics.queryOptions());
  if (storage.isPending) return <p>Loading storage…</p>;
  if (storage.isError) return <p role="alert">Could not load storage: {storage.error.message}</p>;
  const s = storage.data;
  const money = (n: number) => `${n.toFixed(2)} ${s.currency}`;
  return (
    <>
      <table aria-label="providers">
        <thead>
          <tr>
            <th>Provider</th>
            <th>Stored</th>
            <th>Objects</th>
            <th>Backups</th>
            <th>Growth per day</th>
            <th>Per month</th>
          </tr>
        </thead>
        <tbody>
          {s.providers.map((p) => (
            <tr key={p.provider}>
              <td>{p.provider}</td>
              <td>{bytes(p.bytes)}</td>
              <td>{p.objects}</td>
              <td>{p.backups}</td>
              <td>{bytes(p.bytesPerDay)}</td>
              <td>{money(p.monthlyCost)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        Per month now: {money(s.monthlyTotal)}; {s.projection.map((p) => `in ${p.months} months ${money(p.monthlyTotal)}`).join(", ")}.
      </p>
      <h3>Largest tenants</h3>
      <table aria-label="largest tenants">
        <tbody>
          {s.topTenants.map((t) => (
            <tr key={t.tenantId}>
              <td>{t.tenantId}</td>
              <td>{bytes(t.bytes)}</td>
              <td>{t.backups} backups</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Alerts() {
  const trpc = useTRPC();
  const client = useQueryClient();
  const open = useQuery({ ...trpc.alerts.list.queryOptions({}), refetchInterval: 15_000 });
  const settled = { onSettled: () => client.invalidateQueries({ queryKey: trpc.alerts.list.queryKey() }) };
  const acknowledge = useMutation(trpc.alerts.acknowledge.mutationOptions(settled));
  const resolve = useMutation(trpc.alerts.resolve.mutationOptions(settled));
  if (open.isPending) return <p>Loading alerts…</p>;
  if (open.isError) return <p role="alert">Could not load alerts: {open.error.message}</p>;
  if (open.data.length === 0) return <p>No open alerts.</p>;
  return (
    <table aria-label="open alerts">
      <tbody>
        {open.data.map((a) => (
          <tr key={a.id}>
            <td>{new Date(a.raisedAt).toLocaleString()}</td>
            <td>{a.severity}</td>
            <td>{a.message}</td>
            <td>
              {a.acknowledgedBy ? (
                `seen by ${a.acknowledgedBy}`
              ) : (
                <button type="button" onClick={() => acknowledge.mutate({ id: a.id })}>
                  Acknowledge
                </button>
              )}{" "}
              <button type="button" onClick={() => resolve.mutate({ id: a.id })}>
                Resolve
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Audit() {
  const trpc = useTRPC();
  const trail = useQuery(trpc.audit.list.queryOptions({ limit: 200 }));
  if (trail.isPending) return <p>Loading the audit trail…</p>;
  if (trail.isError) return <p role="alert">Could not load the audit trail: {trail.error.message}</p>;
  return (
    <table aria-label="audit trail">
      <tbody>
        {trail.data.map((e) => (
          <tr key={e.id}>
            <td>{new Date(e.at).toLocaleString()}</td>
            <td>{e.actor}</td>
            <td>{e.action}</td>
            <td>{e.targetId}</td>
            <td>{e.outcome}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const TABS = {
  Backups: () => (
    <>
      <BackUpNow />
      <Backups />
    </>
  ),
  Storage,
  Alerts,
  Audit,
} as const;

function SignIn({ reason }: { reason: string }) {
  const [token, setToken] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    session.set(token.trim());
    void queryClient.resetQueries();
  };
  return (
    <form onSubmit={submit}>
      <p role="alert">{reason}.</p>
      <p>
        Open the admin app from HesaabPlus's admin login, or paste a session an operator made with <code>pnpm hesaab admin session --user you</code>:
      </p>
      <input value={token} onChange={(e) => setToken(e.target.value)} placeholder="eyJ…" size={60} aria-label="admin session" />{" "}
      <button type="submit" disabled={token.trim() === ""}>
        Sign in
      </button>
    </form>
  );
}

function App() {
  const trpc = useTRPC();
  const me = useQuery(trpc.admin.me.queryOptions());
  const [tab, setTab] = useState<keyof typeof TABS>("Backups");
  const Tab = TABS[tab];
  if (me.isPending) return <p>Signing in…</p>;
  if (me.isError) return <SignIn reason={me.error.message} />;
  const signOut = () => {
    session.set(null);
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
      <nav>
        {(Object.keys(TABS) as (keyof typeof TABS)[]).map((name) => (
          <button key={name} type="button" aria-pressed={tab === name} onClick={() => setTab(name)}>
            {name}
          </button>
        ))}
      </nav>
      <Tab />
    </>
  );
}

session.take();
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
