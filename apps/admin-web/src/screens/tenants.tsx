import { Alert, Anchor, Button, Checkbox, Group, Select, Table, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { tenantHref } from "../routes";
import { useTRPC } from "../trpc";
import { bytes, OperationProgress, PageHeader, ProviderBadges, QueryState, StatusBadge, useOperation, when } from "../ui";

const PAGE = 25;

type Sort = "id" | "size" | "lastBackup";
const SORTS: { value: Sort; label: string }[] = [
  { value: "id", label: "Id" },
  { value: "size", label: "Size, largest first" },
  { value: "lastBackup", label: "Last backup, newest first" },
];

export function TenantsScreen() {
  const trpc = useTRPC();
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search.trim(), 300);
  const [status, setStatus] = useState<string | null>(null);
  const [sort, setSort] = useState<Sort>("id");
  // keyset paging: the cursors of the pages before this one
  const [cursors, setCursors] = useState<string[]>([]);
  const [selected, setSelected] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const tenants = useQuery({
    ...trpc.tenants.list.queryOptions({
      limit: PAGE,
      ...(debounced ? { search: debounced } : {}),
      ...(status ? { status } : {}),
      sort,
      ...(cursor ? { cursor } : {}),
    }),
    placeholderData: keepPreviousData,
  });
  const backUp = useMutation(trpc.backups.create.mutationOptions());
  const op = useOperation({ kind: "backup", operationId: backUp.data?.operationId ?? null, tenantIds: backUp.data?.queued ?? [] });
  const refilter = (f: () => void) => {
    f();
    setCursors([]);
  };
  const toggle = (id: string, on: boolean) => setSelected((s) => (on ? [...s, id] : s.filter((x) => x !== id)));
  return (
    <>
      <PageHeader title="Tenants">
        <Button disabled={selected.length === 0 || backUp.isPending} onClick={() => backUp.mutate({ tenantIds: selected })}>
          Back up {selected.length} selected now
        </Button>
      </PageHeader>
      {backUp.isError && (
        <Alert color="red" role="alert" mb="sm">
          {backUp.error.message}
        </Alert>
      )}
      {backUp.data && backUp.data.refused.length > 0 && (
        <Alert color="orange" role="alert" mb="sm" title="Not queued">
          {backUp.data.refused.map((r) => `${r.tenantId}: ${r.message}`).join("; ")}
        </Alert>
      )}
      {backUp.data?.operationId && <OperationProgress label="Backup of the selected tenants" op={op} />}
      <Group my="sm">
        <TextInput label="Search" placeholder="name or id" value={search} onChange={(e) => refilter(() => setSearch(e.currentTarget.value))} w={280} />
        <Select
          label="Status"
          data={["active", "suspended", "deleted"]}
          value={status}
          onChange={(v) => refilter(() => setStatus(v))}
          clearable
          placeholder="any"
          w={160}
        />
        <Select label="Sort by" data={SORTS} value={sort} onChange={(v) => v && refilter(() => setSort(v))} allowDeselect={false} w={240} />
      </Group>
      <QueryState query={tenants} what="tenants" empty={(d) => d.tenants.length === 0}>
        {(d) => (
          <>
            <Table striped highlightOnHover aria-label="tenants">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>
                    <Text size="xs" className="sr-only">
                      Select
                    </Text>
                  </Table.Th>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Id</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Size</Table.Th>
                  <Table.Th>Last backup</Table.Th>
                  <Table.Th>Copies</Table.Th>
                  <Table.Th>Last verification</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {d.tenants.map((t) => {
                  const last = t.lastBackup.tenant;
                  return (
                    <Table.Tr key={t.id}>
                      <Table.Td>
                        <Checkbox
                          aria-label={`Select ${t.name ?? t.id}`}
                          checked={selected.includes(t.id)}
                          onChange={(e) => toggle(t.id, e.currentTarget.checked)}
                        />
                      </Table.Td>
                      <Table.Td>
                        <Anchor href={tenantHref(t.id)}>{t.name ?? t.id}</Anchor>
                      </Table.Td>
                      <Table.Td className="mono">{t.id}</Table.Td>
                      <Table.Td>
                        <StatusBadge status={t.status} />
                      </Table.Td>
                      <Table.Td>{bytes(t.size)}</Table.Td>
                      <Table.Td>{last ? when(last.createdAt) : "never"}</Table.Td>
                      <Table.Td>{last ? <ProviderBadges copies={last.providers} /> : "—"}</Table.Td>
                      <Table.Td>{t.lastVerification ? `${t.lastVerification.ok ? "ok" : "failed"} ${when(t.lastVerification.at)}` : "—"}</Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
            <Group justify="flex-end" mt="sm">
              <Button variant="default" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                Previous page
              </Button>
              <Button variant="default" disabled={!d.nextCursor} onClick={() => d.nextCursor && setCursors((c) => [...c, d.nextCursor!])}>
                Next page
              </Button>
            </Group>
          </>
        )}
      </QueryState>
    </>
  );
}
