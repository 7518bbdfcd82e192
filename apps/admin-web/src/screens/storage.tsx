import { AreaChart, BarChart } from "@mantine/charts";
import { Group, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../trpc";
import { bytes, PageHeader, QueryState, type Outputs } from "../ui";

type Storage = Outputs["storage"]["analytics"];
const MiB = 1024 ** 2;
const SERIES_COLOURS = ["blue.6", "orange.6", "teal.6", "grape.6"];

/** Growth samples pivoted into one point per day with a column per provider (MiB), as the chart takes them. */
export function usageByDay(growth: Storage["growth"]): { points: Record<string, string | number>[]; providers: string[] } {
  const providers = [...new Set(growth.map((g) => g.provider))].sort();
  const days = new Map<string, Record<string, string | number>>();
  for (const g of growth) {
    const point = days.get(g.day) ?? { day: g.day };
    point[g.provider] = Math.round((g.bytes / MiB) * 10) / 10;
    days.set(g.day, point);
  }
  return { points: [...days.values()].sort((a, b) => String(a.day).localeCompare(String(b.day))), providers };
}

export function StorageScreen() {
  const trpc = useTRPC();
  const storage = useQuery(trpc.storage.analytics.queryOptions());
  return (
    <>
      <PageHeader title="Storage" />
      <QueryState query={storage} what="storage">
        {(s) => {
          const money = (n: number) => `${n.toFixed(2)} ${s.currency}`;
          const usage = usageByDay(s.growth);
          const cost = [{ when: "now", total: s.monthlyTotal }, ...s.projection.map((p) => ({ when: `in ${p.months} months`, total: p.monthlyTotal }))];
          return (
            <Stack>
              <Table aria-label="providers" striped>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Provider</Table.Th>
                    <Table.Th>Stored</Table.Th>
                    <Table.Th>Objects</Table.Th>
                    <Table.Th>Backups</Table.Th>
                    <Table.Th>Growth per day</Table.Th>
                    <Table.Th>Per month</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {s.providers.map((p) => (
                    <Table.Tr key={p.provider}>
                      <Table.Td>{p.provider}</Table.Td>
                      <Table.Td>{bytes(p.bytes)}</Table.Td>
                      <Table.Td>{p.objects}</Table.Td>
                      <Table.Td>{p.backups}</Table.Td>
                      <Table.Td>{bytes(p.bytesPerDay)}</Table.Td>
                      <Table.Td>{money(p.monthlyCost)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <Group align="stretch" grow>
                <Paper withBorder p="md">
                  <Title order={3} size="h5" mb="sm">
                    Usage per provider over time (MiB)
                  </Title>
                  {usage.points.length === 0 ? (
                    <Text c="dimmed">No usage samples yet: storage-svc takes one a day.</Text>
                  ) : (
                    <figure aria-label="usage over time chart" className="chart-box">
                      <AreaChart
                        h={240}
                        data={usage.points}
                        dataKey="day"
                        series={usage.providers.map((p, i) => ({ name: p, label: p.toUpperCase(), color: SERIES_COLOURS[i % SERIES_COLOURS.length]! }))}
                        withLegend
                        curveType="monotone"
                      />
                    </figure>
                  )}
                </Paper>
                <Paper withBorder p="md">
                  <Title order={3} size="h5" mb="sm">
                    Monthly cost and projection ({s.currency})
                  </Title>
                  <figure aria-label="cost projection chart" className="chart-box">
                    <BarChart h={240} data={cost} dataKey="when" series={[{ name: "total", label: "per month", color: "violet.6" }]} />
                  </figure>
                  <Text size="sm">
                    Per month now: {money(s.monthlyTotal)}; {s.projection.map((p) => `in ${p.months} months ${money(p.monthlyTotal)}`).join(", ")}.
                  </Text>
                </Paper>
              </Group>
              <Title order={3} size="h4">
                Largest tenants
              </Title>
              <Table aria-label="largest tenants" striped>
                <Table.Tbody>
                  {s.topTenants.map((t) => (
                    <Table.Tr key={t.tenantId}>
                      <Table.Td>{t.tenantId}</Table.Td>
                      <Table.Td>{bytes(t.bytes)}</Table.Td>
                      <Table.Td>{t.backups} backups</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Stack>
          );
        }}
      </QueryState>
    </>
  );
}
