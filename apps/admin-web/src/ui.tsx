// Shared pieces of every screen: the three states of a query, formats, provider badges, a typed
// confirmation and an operation's live progress (`progress.operation` over SSE).
import { Alert, Badge, Button, Center, Group, Loader, Modal, Progress, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useState, type ReactNode } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter, ProgressView } from "@hesaab/api";
import { useTRPC } from "./trpc";

export type Outputs = inferRouterOutputs<AppRouter>;
export type { ProgressView };
export type OperationKind = "backup" | "restore" | "rollback" | "disaster_backup" | "disaster_restore" | "verification";

export const bytes = (n: number | null | undefined): string => {
  if (n === null || n === undefined) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
};
export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : "—");

/** A page's title and its actions. */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Group justify="space-between" mb="md">
      <Title order={2}>{title}</Title>
      <Group>{children}</Group>
    </Group>
  );
}

/** Loading, error and empty states of a query, then its data. */
export function QueryState<T>({
  query,
  what,
  empty,
  children,
}: {
  query: { isPending: boolean; isError: boolean; error: { message: string } | null; data: T | undefined };
  what: string;
  /** True when the data holds nothing to show; `children` is not called then. */
  empty?: (data: T) => boolean;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending)
    return (
      <Center p="lg">
        <Loader size="sm" aria-hidden />
        <Text ml="sm">Loading {what}…</Text>
      </Center>
    );
  if (query.isError)
    return (
      <Alert color="red" title={`Could not load ${what}`} role="alert">
        {query.error?.message}
      </Alert>
    );
  const data = query.data as T;
  if (empty?.(data))
    return (
      <Text c="dimmed" p="md">
        No {what} yet.
      </Text>
    );
  return <>{children(data)}</>;
}

const COPY_COLOURS: Record<string, string> = { stored: "teal", missing: "orange", corrupt: "red", failed: "red", healing: "yellow", absent: "gray" };
const STATUS_COLOURS: Record<string, string> = {
  completed: "teal",
  verified: "teal",
  ok: "teal",
  match: "teal",
  degraded: "yellow",
  partial: "yellow",
  pending: "gray",
  running: "blue",
  spooled: "yellow",
  failed: "red",
  mismatch: "red",
  rolled_back: "violet",
  expired: "gray",
  deleted: "gray",
};

export function StatusBadge({ status }: { status: string | null | undefined }) {
  if (!status) return <Text c="dimmed">—</Text>;
  return (
    <Badge variant="light" color={STATUS_COLOURS[status] ?? "gray"} className="badge-whole">
      {status.replace(/_/g, " ")}
    </Badge>
  );
}

/** One badge per provider copy: "B2 stored", "R2 missing" (the state is in the text, not only in the colour). */
export function ProviderBadges({ copies }: { copies: Record<string, string> | { provider: string; status: string }[] }) {
  const list = Array.isArray(copies) ? copies : Object.entries(copies).map(([provider, status]) => ({ provider, status }));
  if (list.length === 0) return <Text c="dimmed">none</Text>;
  return (
    <Group gap={4} wrap="nowrap">
      {list.map((c) => (
        <Badge key={c.provider} variant="outline" color={COPY_COLOURS[c.status] ?? "gray"} className="badge-whole">
          {c.provider.toUpperCase()} {c.status}
        </Badge>
      ))}
    </Group>
  );
}

/**
 * A confirmation that asks for a phrase typed again (a tenant id, a database name): the button stays
 * disabled until it matches. What cannot be undone is said in `children`.
 */
export function TypedConfirm({
  opened,
  title,
  phrase,
  label,
  action,
  busy,
  onClose,
  onConfirm,
  children,
}: {
  opened: boolean;
  title: string;
  phrase: string;
  label: string;
  action: string;
  busy?: boolean;
  onClose(): void;
  onConfirm(): void;
  children: ReactNode;
}) {
  const [typed, setTyped] = useState("");
  const close = () => {
    setTyped("");
    onClose();
  };
  return (
    <Modal closeButtonProps={{ "aria-label": "Close" }} lockScroll={false} opened={opened} onClose={close} title={title} centered>
      <Stack>
        {children}
        <TextInput label={label} description={`Type ${phrase}`} value={typed} onChange={(e) => setTyped(e.currentTarget.value)} autoComplete="off" />
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>
            Cancel
          </Button>
          <Button
            color="red"
            disabled={typed !== phrase}
            loading={busy ?? false}
            onClick={() => {
              setTyped("");
              onConfirm();
            }}
          >
            {action}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** The views of one operation as they come, and how it ended. */
export function useOperation(o: { kind: OperationKind; operationId: string | null; tenantIds?: string[] }) {
  const trpc = useTRPC();
  const [views, setViews] = useState<{ id: string | null; list: ProgressView[] }>({ id: null, list: [] });
  const input = o.operationId ? { kind: o.kind, operationId: o.operationId, ...(o.tenantIds?.length ? { tenantIds: o.tenantIds } : {}) } : undefined;
  const sub = useSubscription(
    trpc.progress.operation.subscriptionOptions(input ?? { kind: o.kind, operationId: "none" }, {
      enabled: Boolean(input),
      onData: (envelope) => {
        const view = (envelope as { data: ProgressView }).data;
        setViews((v) => ({ id: o.operationId, list: v.id === o.operationId ? [...v.list, view] : [view] }));
      },
    }),
  );
  const list = views.id === o.operationId ? views.list : [];
  const last = list.at(-1);
  const final = list.find((v) => v.final);
  return { views: list, last, final, percent: final?.percent ?? last?.percent ?? 0, error: sub.error };
}

/** An operation's live progress: a bar with percent, phase and ETA, each tenant's last state, the outcome. */
export function OperationProgress({ label, op }: { label: string; op: ReturnType<typeof useOperation> }) {
  const perTenant = new Map<string, ProgressView>();
  for (const v of op.views) if (v.tenantId) perTenant.set(v.tenantId, v);
  const ok = op.final && (op.final.outcome === "completed" || op.final.outcome === "ready");
  return (
    <Stack gap="xs" aria-live="polite">
      <Group justify="space-between">
        <Text fw={600}>{label}</Text>
        <Text data-testid="progress-percent">{Math.round(op.percent)}%</Text>
      </Group>
      <Progress value={op.percent} aria-label={`${label} progress`} animated={!op.final} color={op.final ? (ok ? "teal" : "red") : "blue"} />
      <Text size="sm" c="dimmed">
        {op.final
          ? `Finished: ${op.final.outcome ?? "done"}${op.final.error ? ` — ${op.final.error.message}` : ""}`
          : op.last
            ? [op.last.phase, op.last.table, op.last.etaSeconds !== undefined ? `about ${op.last.etaSeconds}s left` : undefined].filter(Boolean).join(" · ") ||
              "Working…"
            : "Waiting for the first progress event…"}
      </Text>
      {op.error && (
        <Alert color="red" role="alert" title="Live progress interrupted">
          {op.error.message}
        </Alert>
      )}
      {op.views.length > 0 && (
        <details>
          <summary>Events ({op.views.length})</summary>
          {/* every view in order, so a reader (and a test) sees how the operation went, not only its last state */}
          <ol aria-label={`${label} events`} className="mono">
            {op.views.map((v) => (
              <li key={v.id}>{[`${v.percent ?? 0}%`, v.type, v.phase, v.tenantId, v.outcome].filter(Boolean).join(" ")}</li>
            ))}
          </ol>
        </details>
      )}
      {perTenant.size > 0 && (
        <Table aria-label={`${label} per tenant`} striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Tenant</Table.Th>
              <Table.Th>Phase</Table.Th>
              <Table.Th>Rows</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {[...perTenant.entries()].map(([tenant, v]) => (
              <Table.Tr key={tenant}>
                <Table.Td className="mono">{tenant}</Table.Td>
                <Table.Td>{v.phase ?? v.outcome ?? v.type.split(".").at(-2)}</Table.Td>
                <Table.Td>{v.rows?.toLocaleString() ?? "—"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

/** The tenants for pickers (names with ids), the first 500. */
export function useTenantNames() {
  const trpc = useTRPC();
  return useQuery({ ...trpc.tenants.list.queryOptions({ limit: 500 }), staleTime: 60_000 });
}
