// Verification, retention, keys and restore drills: each shows the catalog's state and starts the
// operation storage-svc or backup-svc runs.
import { Alert, Button, Checkbox, Group, Paper, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { BarChart } from "@mantine/charts";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { PageHeader, ProviderBadges, QueryState, StatusBadge, TypedConfirm, when, type Outputs } from "../ui";

type Verification = Outputs["verification"]["status"]["backups"];

/** Checks per day, good and failed (the verification-over-time chart). */
export function checksByDay(backups: Verification): { day: string; ok: number; failed: number }[] {
  const days = new Map<string, { day: string; ok: number; failed: number }>();
  for (const b of backups)
    for (const p of b.providers) {
      if (!p.lastCheck) continue;
      const day = p.lastCheck.at.slice(0, 10);
      const d = days.get(day) ?? { day, ok: 0, failed: 0 };
      if (p.lastCheck.ok) d.ok += 1;
      else d.failed += 1;
      days.set(day, d);
    }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

export function VerificationScreen() {
  const trpc = useTRPC();
  const status = useQuery({ ...trpc.verification.status.queryOptions({ limit: 200 }), refetchInterval: 15_000 });
  const trigger = useMutation(trpc.verification.trigger.mutationOptions());
  const [deep, setDeep] = useState(false);
  return (
    <>
      <PageHeader title="Verification">
        <Checkbox label="Deep (decrypt and decompress)" checked={deep} onChange={(e) => setDeep(e.currentTarget.checked)} />
        <Button onClick={() => trigger.mutate({ deep })} loading={trigger.isPending}>
          Verify every good backup now
        </Button>
      </PageHeader>
      {trigger.isSuccess && (
        <Alert color="teal" mb="sm" role="status">
          Verification {trigger.data.operationId} started on storage-svc.
        </Alert>
      )}
      {trigger.isError && (
        <Alert color="red" mb="sm" role="alert">
          {trigger.error.message}
        </Alert>
      )}
      <QueryState query={status} what="verification results" empty={(d) => d.backups.length === 0}>
        {(d) => {
          const days = checksByDay(d.backups);
          const twoGood = d.backups.filter((b) => b.providers.filter((p) => p.status === "stored" && p.verification !== "failed").length >= 2).length;
          return (
            <Stack>
              <Text>
                Redundancy: {twoGood} of {d.backups.length} backups have two good copies.
              </Text>
              {days.length > 0 && (
                <Paper withBorder p="md">
                  <Title order={3} size="h5" mb="sm">
                    Checks per day
                  </Title>
                  <figure aria-label="verification over time chart" className="chart-box">
                    <BarChart
                      h={220}
                      data={days}
                      dataKey="day"
                      type="stacked"
                      series={[
                        { name: "ok", label: "good", color: "teal.6" },
                        { name: "failed", label: "failed", color: "red.6" },
                      ]}
                    />
                  </figure>
                </Paper>
              )}
              <Table aria-label="verification results" striped>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Backup</Table.Th>
                    <Table.Th>Tenant</Table.Th>
                    <Table.Th>Verification</Table.Th>
                    <Table.Th>Copies</Table.Th>
                    <Table.Th>Verified</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {d.backups.map((b) => (
                    <Table.Tr key={b.backupId}>
                      <Table.Td className="mono">{b.backupId}</Table.Td>
                      <Table.Td className="mono">{b.tenantId ?? "platform"}</Table.Td>
                      <Table.Td>
                        <StatusBadge status={b.verification} />
                      </Table.Td>
                      <Table.Td>
                        <ProviderBadges copies={b.providers} />
                      </Table.Td>
                      <Table.Td>{when(b.verifiedAt)}</Table.Td>
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

export function RetentionScreen() {
  const trpc = useTRPC();
  const policy = useQuery(trpc.retention.policy.queryOptions());
  const preview = useQuery(trpc.retention.preview.queryOptions());
  const apply = useMutation(trpc.retention.applyNow.mutationOptions());
  const [confirming, setConfirming] = useState(false);
  const expired = preview.data?.expired.length;
  return (
    <>
      <PageHeader title="Retention">
        <Button color="red" disabled={apply.isPending || Boolean(apply.data)} onClick={() => setConfirming(true)}>
          Apply retention now…
        </Button>
      </PageHeader>
      {apply.isSuccess && (
        <Alert color="teal" role="status" mb="md">
          Retention {apply.data.operationId} queued: storage-svc deletes what the preview lists and records each deletion in the audit trail.
        </Alert>
      )}
      {apply.isError && (
        <Alert color="red" role="alert" mb="md">
          {apply.error.message}
        </Alert>
      )}
      <TypedConfirm
        opened={confirming}
        title="Apply retention now"
        phrase="apply retention"
        label="Retention confirmation"
        action="Apply retention"
        onClose={() => setConfirming(false)}
        onConfirm={() => {
          setConfirming(false);
          apply.mutate();
        }}
      >
        <Text>
          {expired === undefined ? "The expired backups" : `${expired} expired backup${expired === 1 ? "" : "s"}`} are deleted from both providers now, as the
          nightly run would. This cannot be undone.
        </Text>
      </TypedConfirm>
      <Paper withBorder p="md" mb="md">
        <Title order={3} size="h5">
          Rules in force
        </Title>
        <QueryState query={policy} what="the retention policy">
          {(p) => (
            <pre className="mono" aria-label="retention rules">
              {JSON.stringify(p.rules, null, 2)}
            </pre>
          )}
        </QueryState>
      </Paper>
      <Title order={3} size="h4" mb="sm">
        Dry run: what retention would delete now
      </Title>
      <QueryState query={preview} what="the retention preview">
        {(p) => (
          <Stack>
            <Text>
              {p.expired.length} backups would be deleted; {p.kept.length} past expiry are kept.
            </Text>
            <Table aria-label="retention preview" striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Backup</Table.Th>
                  <Table.Th>Decision</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {p.expired.slice(0, 100).map((e) => (
                  <Table.Tr key={JSON.stringify(e)}>
                    <Table.Td className="mono">{typeof e === "string" ? e : ((e as { id?: string }).id ?? JSON.stringify(e))}</Table.Td>
                    <Table.Td>delete</Table.Td>
                  </Table.Tr>
                ))}
                {p.kept.slice(0, 100).map((k) => (
                  <Table.Tr key={JSON.stringify(k)}>
                    <Table.Td className="mono">{(k as { id?: string }).id ?? JSON.stringify(k)}</Table.Td>
                    <Table.Td>kept: {(k as { reason?: string }).reason ?? ""}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Stack>
        )}
      </QueryState>
    </>
  );
}

export function KeysScreen() {
  const trpc = useTRPC();
  const [ids, setIds] = useState("");
  const [shredId, setShredId] = useState("");
  const [confirming, setConfirming] = useState(false);
  const rotate = useMutation(trpc.keys.rotate.mutationOptions());
  const shred = useMutation(trpc.keys.shred.mutationOptions());
  const tenantIds = ids.split(/[\s,]+/).filter(Boolean);
  return (
    <>
      <PageHeader title="Keys" />
      <Stack>
        <Paper withBorder p="md">
          <Title order={3} size="h5" mb="sm">
            Rotate
          </Title>
          <Group align="flex-end">
            <TextInput label="Tenant ids to rotate" value={ids} onChange={(e) => setIds(e.currentTarget.value)} flex={1} />
            <Button disabled={tenantIds.length === 0} onClick={() => rotate.mutate({ tenantIds })}>
              Rotate these
            </Button>
            <Button variant="light" onClick={() => rotate.mutate({ behindMaster: true })}>
              Rotate those behind the master key
            </Button>
          </Group>
          {rotate.isSuccess && (
            <Text mt="sm" role="status">
              Rotation {rotate.data.operationId} queued.
            </Text>
          )}
          {rotate.isError && (
            <Alert color="red" mt="sm" role="alert">
              {rotate.error.message}
            </Alert>
          )}
        </Paper>
        <Paper withBorder p="md">
          <Title order={3} size="h5" mb="sm">
            Shred a tenant's key
          </Title>
          <Text size="sm" mb="sm">
            Every backup of the tenant becomes unreadable, for good.
          </Text>
          <Group align="flex-end">
            <TextInput label="Tenant id to shred" value={shredId} onChange={(e) => setShredId(e.currentTarget.value.trim())} flex={1} />
            <Button color="red" disabled={shredId === ""} onClick={() => setConfirming(true)}>
              Shred…
            </Button>
          </Group>
          {shred.isSuccess && (
            <Text mt="sm" role="status">
              Shredding {shred.data.operationId} queued.
            </Text>
          )}
          {shred.isError && (
            <Alert color="red" mt="sm" role="alert">
              {shred.error.message}
            </Alert>
          )}
        </Paper>
      </Stack>
      <TypedConfirm
        opened={confirming}
        title="Shred the tenant's key"
        phrase={shredId}
        label="Tenant id, typed again"
        action="Shred for good"
        onClose={() => setConfirming(false)}
        onConfirm={() => {
          setConfirming(false);
          shred.mutate({ tenantId: shredId, confirm: shredId });
        }}
      >
        <Text>This cannot be undone: no backup of {shredId} can be read afterwards.</Text>
      </TypedConfirm>
    </>
  );
}

export function DrillsScreen() {
  const trpc = useTRPC();
  const report = useQuery(trpc.drills.report.queryOptions({}));
  return (
    <>
      <PageHeader title="Restore drills" />
      <QueryState query={report} what="the drill report">
        {(r) => (
          <Stack>
            <Text>
              Coverage: {r.coverage.drilledInWindow} of {r.coverage.tenantsWithBackups} tenants drilled in the last {r.coverage.windowDays} days
              {r.coverage.oldestUndrilled ? `; waiting longest: ${r.coverage.oldestUndrilled.tenantId}` : ""}.
              {r.tampered > 0 ? ` ${r.tampered} records fail their signature.` : ""}
            </Text>
            {r.drills.length === 0 ? (
              <Text c="dimmed">No drills yet.</Text>
            ) : (
              <Table aria-label="drills" striped>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Drill</Table.Th>
                    <Table.Th>Tenant</Table.Th>
                    <Table.Th>Outcome</Table.Th>
                    <Table.Th>Signature</Table.Th>
                    <Table.Th>Finished</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {r.drills.map((d) => (
                    <Table.Tr key={d.id}>
                      <Table.Td className="mono">{d.id}</Table.Td>
                      <Table.Td className="mono">{d.tenantId ?? "platform"}</Table.Td>
                      <Table.Td>
                        <StatusBadge status={d.outcome} />
                      </Table.Td>
                      <Table.Td>{d.attestation}</Table.Td>
                      <Table.Td>{when(d.finishedAt)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Stack>
        )}
      </QueryState>
    </>
  );
}
