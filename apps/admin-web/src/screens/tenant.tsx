// One tenant's page (`#/tenants/<id>`): what the catalog knows of it in one place — its backups (each
// a link into the restore wizard with that backup chosen), restores, self-backups (exports), key
// versions and restore drills. Each section loads, fails and is empty on its own.
import { Anchor, Badge, Group, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { hrefOf, useRoute } from "../routes";
import { useTRPC } from "../trpc";
import { bytes, PageHeader, ProviderBadges, QueryState, StatusBadge, when } from "../ui";

const SHOWN = 20;

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h5" mb="sm">
        {title}
      </Title>
      {children}
    </Paper>
  );
}

/** A table's head row. */
function Head({ cells }: { cells: string[] }) {
  return (
    <Table.Thead>
      <Table.Tr>
        {cells.map((c) => (
          <Table.Th key={c}>{c}</Table.Th>
        ))}
      </Table.Tr>
    </Table.Thead>
  );
}

function Backups({ tenantId }: { tenantId: string }) {
  const trpc = useTRPC();
  const backups = useQuery(trpc.backups.list.queryOptions({ tenantId, limit: SHOWN }));
  return (
    <Section title="Backups">
      <QueryState query={backups} what="backups" empty={(d) => d.length === 0}>
        {(d) => (
          <Table aria-label="tenant backups" striped>
            <Head cells={["Backup", "Created", "Status", "Copies", "Verification", "Size", "Restore"]} />
            <Table.Tbody>
              {d.map((b) => (
                <Table.Tr key={b.id}>
                  <Table.Td className="mono">{b.id}</Table.Td>
                  <Table.Td>{when(b.createdAt)}</Table.Td>
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
                  <Table.Td>
                    {b.status === "completed" || b.status === "degraded" ? (
                      <Anchor href={hrefOf("/restore", { tenantId, backupId: b.id })} aria-label={`Restore from this: ${b.id}`}>
                        Restore from this
                      </Anchor>
                    ) : (
                      "—"
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Section>
  );
}

function Restores({ tenantId }: { tenantId: string }) {
  const trpc = useTRPC();
  const restores = useQuery(trpc.restores.list.queryOptions({ tenantId, limit: SHOWN }));
  return (
    <Section title="Restores">
      <QueryState query={restores} what="restores" empty={(d) => d.restores.length === 0}>
        {(d) => (
          <Table aria-label="tenant restores" striped>
            <Head cells={["Restore", "Started", "By", "Status", "Target", "Rollback"]} />
            <Table.Tbody>
              {d.restores.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td className="mono">{r.id}</Table.Td>
                  <Table.Td>{when(r.initiatedAt)}</Table.Td>
                  <Table.Td>{r.initiatedBy}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={r.status} />
                  </Table.Td>
                  <Table.Td>{r.targetDb ?? "production"}</Table.Td>
                  <Table.Td>{r.rollbackAvailable ? "available" : "—"}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Section>
  );
}

/** Key versions and exports: the catalog's facts of the tenant beside its backups (`tenants.get`). */
function KeysAndExports({ tenantId }: { tenantId: string }) {
  const trpc = useTRPC();
  const facts = useQuery(trpc.tenants.get.queryOptions({ tenantId }));
  return (
    <>
      <Section title="Key versions">
        <QueryState query={facts} what="key versions" empty={(d) => d.keyVersions.length === 0}>
          {(d) => (
            <Table aria-label="tenant key versions" striped>
              <Head cells={["Version", "Under master key", "Created", "State"]} />
              <Table.Tbody>
                {d.keyVersions.map((k) => (
                  <Table.Tr key={k.version}>
                    <Table.Td>v{k.version}</Table.Td>
                    <Table.Td>v{k.masterVersion}</Table.Td>
                    <Table.Td>{when(k.createdAt)}</Table.Td>
                    <Table.Td>{k.retiredAt ? `retired ${when(k.retiredAt)}` : <Badge variant="light">in use</Badge>}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </QueryState>
      </Section>
      <Section title="Exports">
        <QueryState query={facts} what="exports" empty={(d) => d.exports.length === 0}>
          {(d) => (
            <Table aria-label="tenant exports" striped>
              <Head cells={["Export", "Requested", "By", "Status", "Size", "Expires", "Downloads"]} />
              <Table.Tbody>
                {d.exports.map((e) => (
                  <Table.Tr key={e.id}>
                    <Table.Td className="mono">{e.id}</Table.Td>
                    <Table.Td>{when(e.createdAt)}</Table.Td>
                    <Table.Td>{e.requestedBy}</Table.Td>
                    <Table.Td>
                      <StatusBadge status={e.status} />
                    </Table.Td>
                    <Table.Td>{bytes(e.size)}</Table.Td>
                    <Table.Td>{when(e.expiresAt)}</Table.Td>
                    <Table.Td>{e.downloads}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </QueryState>
      </Section>
    </>
  );
}

function Drills({ tenantId }: { tenantId: string }) {
  const trpc = useTRPC();
  const report = useQuery(trpc.drills.report.queryOptions({ tenant_id: tenantId, limit: SHOWN }));
  return (
    <Section title="Restore drills">
      <QueryState query={report} what="drills" empty={(d) => d.drills.length === 0}>
        {(d) => (
          <Table aria-label="tenant drills" striped>
            <Head cells={["Drill", "Backup", "Outcome", "Signature", "Finished"]} />
            <Table.Tbody>
              {d.drills.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td className="mono">{r.id}</Table.Td>
                  <Table.Td className="mono">{r.backupId}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={r.outcome} />
                  </Table.Td>
                  <Table.Td>{r.attestation}</Table.Td>
                  <Table.Td>{when(r.finishedAt)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Section>
  );
}

export function TenantScreen() {
  const route = useRoute();
  const tenantId = route.params.get("id") ?? "";
  return (
    <>
      <PageHeader title={`Tenant ${tenantId}`}>
        <Anchor href={hrefOf("/tenants")}>All tenants</Anchor>
      </PageHeader>
      <Group mb="sm">
        <Text size="sm">
          <Anchor href={hrefOf("/restore", { tenantId })}>Restore this tenant…</Anchor>
        </Text>
      </Group>
      <Stack>
        <Backups tenantId={tenantId} />
        <Restores tenantId={tenantId} />
        <KeysAndExports tenantId={tenantId} />
        <Drills tenantId={tenantId} />
      </Stack>
    </>
  );
}
