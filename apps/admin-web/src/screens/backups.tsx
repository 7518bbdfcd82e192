import { Alert, Button, Code, Drawer, Group, List, Paper, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "../trpc";
import { bytes, OperationProgress, PageHeader, ProviderBadges, QueryState, StatusBadge, useOperation, when } from "../ui";

/** Queues an on-demand backup of the tenants given (ids separated by spaces, commas or lines), then follows it live. */
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
  const op = useOperation({ kind: "backup", operationId: create.data?.operationId ?? null, tenantIds: create.data?.queued ?? [] });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const tenantIds = ids.split(/[\s,]+/).filter(Boolean);
    if (tenantIds.length > 0) create.mutate({ tenantIds });
  };
  return (
    <Paper withBorder p="md" mb="md">
      <form onSubmit={submit}>
        <Group align="flex-end">
          <TextInput label="Back up now, tenant ids:" value={ids} onChange={(e) => setIds(e.currentTarget.value)} placeholder="3f2b8a4e-… 9c1d…" flex={1} />
          <Button type="submit" disabled={create.isPending || ids.trim() === ""}>
            {create.isPending ? "Queueing…" : "Back up"}
          </Button>
        </Group>
      </form>
      {create.isSuccess && (
        <Text mt="sm" role="status">
          queued {create.data.queued.length}
        </Text>
      )}
      {create.isSuccess && create.data.refused.length > 0 && (
        <Alert color="orange" mt="sm" role="alert" title={`Not queued (${create.data.refused.length}):`}>
          <List aria-label="refused tenant ids" size="sm">
            {create.data.refused.map((r) => (
              <List.Item key={r.tenantId}>
                <code>{r.tenantId}</code>: {r.message}
              </List.Item>
            ))}
          </List>
        </Alert>
      )}
      {create.isError && (
        <Alert color="red" mt="sm" role="alert">
          {create.error.message}
        </Alert>
      )}
      {create.data?.operationId && (
        <Stack mt="sm">
          <OperationProgress label="Backup" op={op} />
        </Stack>
      )}
    </Paper>
  );
}

/** One backup's detail: manifest, rows per table, each provider's copy and its checks. */
function BackupDrawer({ id, onClose }: { id: string | null; onClose(): void }) {
  const trpc = useTRPC();
  const detail = useQuery({ ...trpc.backups.get.queryOptions({ id: id ?? "bkp_0" }), enabled: Boolean(id) });
  return (
    <Drawer
      closeButtonProps={{ "aria-label": "Close" }}
      lockScroll={false}
      opened={Boolean(id)}
      onClose={onClose}
      position="right"
      size="lg"
      title={`Backup ${id ?? ""}`}
    >
      <QueryState query={detail} what="the backup">
        {(b) => (
          <Stack>
            <Group>
              <StatusBadge status={b.status} />
              <StatusBadge status={b.verification} />
              <ProviderBadges copies={b.copies} />
            </Group>
            <Table aria-label="manifest">
              <Table.Tbody>
                <Table.Tr>
                  <Table.Th>Tenant</Table.Th>
                  <Table.Td className="mono">{b.tenantId ?? "platform"}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Created</Table.Th>
                  <Table.Td>{when(b.createdAt)}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Size</Table.Th>
                  <Table.Td>{bytes(b.size)}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Rows</Table.Th>
                  <Table.Td>{b.manifest.rows?.toLocaleString() ?? "—"}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Key version</Table.Th>
                  <Table.Td>{b.keyVersion ?? "—"}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Checksum</Table.Th>
                  <Table.Td className="mono">{b.checksum ?? "—"}</Table.Td>
                </Table.Tr>
              </Table.Tbody>
            </Table>
            <Text fw={600}>Tables</Text>
            <Table aria-label="rows per table" striped>
              <Table.Tbody>
                {Object.entries(b.tables).map(([table, rows]) => (
                  <Table.Tr key={table}>
                    <Table.Td>{table}</Table.Td>
                    <Table.Td>{rows.toLocaleString()}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <Text fw={600}>Copies</Text>
            {b.copies.map((c) => (
              <Paper key={c.provider} withBorder p="xs">
                <Group justify="space-between">
                  <ProviderBadges copies={[c]} />
                  <Text size="sm">{bytes(c.size)}</Text>
                </Group>
                <Text size="xs" className="mono">
                  {c.location}
                </Text>
                <Text size="xs">
                  verification: {c.verification ?? "—"} ({when(c.verifiedAt)}){c.error ? ` · ${c.error}` : ""}
                </Text>
              </Paper>
            ))}
          </Stack>
        )}
      </QueryState>
    </Drawer>
  );
}

const TYPES = ["tenant", "customer", "disaster"] as const;
const STATUSES = ["pending", "running", "completed", "degraded", "spooled", "failed", "expired", "deleted"] as const;
const STATES = ["stored", "missing", "failed", "corrupt", "absent"] as const;
const VERIFICATIONS = ["pending", "verified", "partial", "failed"] as const;

export function BackupsScreen() {
  const trpc = useTRPC();
  const [type, setType] = useState<(typeof TYPES)[number] | null>(null);
  const [status, setStatus] = useState<(typeof STATUSES)[number] | null>(null);
  const [provider, setProvider] = useState<string | null>(null);
  const [state, setState] = useState<(typeof STATES)[number] | null>(null);
  const [verification, setVerification] = useState<(typeof VERIFICATIONS)[number] | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const backups = useQuery({
    ...trpc.backups.list.queryOptions({
      limit: 100,
      ...(type ? { type } : {}),
      ...(status ? { status: [status] } : {}),
      ...(provider ? { provider, ...(state ? { providerState: state } : {}) } : {}),
      ...(verification ? { verification } : {}),
    }),
    refetchInterval: 10_000,
  });
  return (
    <>
      <PageHeader title="Backups" />
      <BackUpNow />
      <Group mb="sm" aria-label="filters">
        <Select label="Type" data={[...TYPES]} value={type} onChange={(v) => setType(v)} clearable placeholder="any" w={140} />
        <Select label="Status" data={[...STATUSES]} value={status} onChange={(v) => setStatus(v)} clearable placeholder="any" w={150} />
        <Select label="Provider" data={["b2", "r2"]} value={provider} onChange={setProvider} clearable placeholder="any" w={120} />
        <Select label="Copy state" data={[...STATES]} value={state} onChange={(v) => setState(v)} clearable disabled={!provider} placeholder="stored" w={140} />
        <Select label="Verification" data={[...VERIFICATIONS]} value={verification} onChange={(v) => setVerification(v)} clearable placeholder="any" w={150} />
      </Group>
      <QueryState query={backups} what="backups" empty={(d) => d.length === 0}>
        {(rows) => (
          <Table striped highlightOnHover aria-label="backups">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Backup</Table.Th>
                <Table.Th>Tenant</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Copies</Table.Th>
                <Table.Th>Verification</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>Created</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((b) => (
                <Table.Tr key={b.id}>
                  <Table.Td>
                    <Button variant="subtle" size="compact-xs" onClick={() => setOpen(b.id)}>
                      <Code>{b.id}</Code>
                    </Button>
                  </Table.Td>
                  <Table.Td className="mono">{b.tenantId ?? "platform"}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={b.status} />
                  </Table.Td>
                  <Table.Td>
                    <ProviderBadges copies={b.providers} />
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={b.verification} />
                  </Table.Td>
                  <Table.Td>{bytes(b.size)}</Table.Td>
                  <Table.Td>{when(b.createdAt)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
      <BackupDrawer id={open} onClose={() => setOpen(null)} />
    </>
  );
}
