import { Badge, Button, Group, Paper, Stack, Table, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTRPC } from "../trpc";
import { PageHeader, QueryState, when } from "../ui";

const SEVERITY: Record<string, string> = { critical: "red", error: "red", warning: "orange", info: "blue" };

export function AlertsScreen() {
  const trpc = useTRPC();
  const client = useQueryClient();
  const open = useQuery({ ...trpc.alerts.list.queryOptions({}), refetchInterval: 15_000 });
  const channels = useQuery(trpc.alerts.channels.queryOptions());
  const settled = { onSettled: () => client.invalidateQueries({ queryKey: trpc.alerts.list.queryKey() }) };
  const acknowledge = useMutation(trpc.alerts.acknowledge.mutationOptions(settled));
  const resolve = useMutation(trpc.alerts.resolve.mutationOptions(settled));
  return (
    <>
      <PageHeader title="Alerts" />
      <Paper withBorder p="sm" mb="md">
        <Text size="sm" fw={600}>
          Channels
        </Text>
        <QueryState query={channels} what="alert channels" empty={(d) => d.channels.length === 0}>
          {(d) => (
            <Group gap="xs">
              {d.channels.map((c) => (
                <Badge key={`${c.kind}:${c.target}`} variant="outline">
                  {c.kind}: {c.target}
                </Badge>
              ))}
            </Group>
          )}
        </QueryState>
      </Paper>
      {open.data?.length === 0 ? (
        <Text c="dimmed">No open alerts.</Text>
      ) : (
        <QueryState query={open} what="alerts">
          {(alerts) => (
            <Table aria-label="open alerts" striped>
              <Table.Tbody>
                {alerts.map((a) => (
                  <Table.Tr key={a.id}>
                    <Table.Td>{when(a.raisedAt)}</Table.Td>
                    <Table.Td>
                      <Badge color={SEVERITY[a.severity] ?? "gray"}>{a.severity}</Badge>
                    </Table.Td>
                    <Table.Td>{a.message}</Table.Td>
                    <Table.Td>{a.occurrences > 1 ? `×${a.occurrences}` : ""}</Table.Td>
                    <Table.Td>
                      <Group gap="xs" wrap="nowrap">
                        {a.acknowledgedBy ? (
                          <Text size="sm">seen by {a.acknowledgedBy}</Text>
                        ) : (
                          <Button size="xs" variant="light" onClick={() => acknowledge.mutate({ id: a.id })}>
                            Acknowledge
                          </Button>
                        )}
                        <Button size="xs" variant="light" color="teal" onClick={() => resolve.mutate({ id: a.id })}>
                          Resolve
                        </Button>
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </QueryState>
      )}
    </>
  );
}

export function AuditScreen() {
  const trpc = useTRPC();
  const trail = useQuery(trpc.audit.list.queryOptions({ limit: 200 }));
  return (
    <Stack>
      <PageHeader title="Audit trail" />
      <QueryState query={trail} what="the audit trail" empty={(d) => d.length === 0}>
        {(entries) => (
          <Table aria-label="audit trail" striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Actor</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Target</Table.Th>
                <Table.Th>Outcome</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {entries.map((e) => (
                <Table.Tr key={e.id}>
                  <Table.Td>{when(e.at)}</Table.Td>
                  <Table.Td>{e.actor}</Table.Td>
                  <Table.Td>{e.action}</Table.Td>
                  <Table.Td>{e.targetId}</Table.Td>
                  <Table.Td>{e.outcome}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Stack>
  );
}
