// The restore wizard: which tenants, from which backup (the latest or the latest at a point in time),
// which provider, replace production or copy into another database; a verify-only dry run that must
// pass first; a summary; a typed confirmation; live progress per tenant; the rollback.
import { Alert, Button, Checkbox, Group, Paper, Radio, SegmentedControl, Select, Stack, Stepper, Table, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useRoute } from "../routes";
import { useTRPC } from "../trpc";
import { OperationProgress, PageHeader, QueryState, StatusBadge, TypedConfirm, useOperation, useTenantNames, when } from "../ui";

interface Plan {
  scope: "some" | "all";
  tenantIds: string[];
  source: "latest" | "at" | "backup";
  at: string;
  /** With source "backup": the backup restored (one tenant's). */
  backupId: string;
  from: "b2" | "r2";
  target: "production" | "copy";
  targetDb: string;
  withDependencies: boolean;
}

const initial: Plan = {
  scope: "some",
  tenantIds: [],
  source: "latest",
  at: "",
  backupId: "",
  from: "b2",
  target: "production",
  targetDb: "",
  withDependencies: false,
};

/** The plan a link starts with: `#/restore?tenantId=…&backupId=…` (a tenant page's "Restore from this"). */
function planFromLink(params: URLSearchParams): Plan {
  const tenantId = params.get("tenantId");
  const backupId = params.get("backupId");
  if (!tenantId) return initial;
  return { ...initial, tenantIds: [tenantId], ...(backupId ? { source: "backup" as const, backupId } : {}) };
}

/** A chosen backup is one tenant's: the wizard offers it only with exactly one tenant chosen. */
const oneTenant = (p: Plan) => (p.scope === "some" && p.tenantIds.length === 1 ? p.tenantIds[0]! : null);

/** The request `restores.create` takes for the plan (verifyOnly for the dry run). */
function requestOf(p: Plan, verifyOnly: boolean) {
  return {
    ...(p.scope === "all" ? { all: true } : { tenantIds: p.tenantIds }),
    ...(p.source === "at" && p.at ? { at: new Date(p.at).toISOString() } : {}),
    ...(p.source === "backup" ? { backupId: p.backupId } : {}),
    from: p.from,
    verifyOnly,
    ...(p.target === "copy" ? { targetDb: p.targetDb, withDependencies: p.withDependencies } : {}),
  };
}

function TenantPicker({ plan, setPlan }: { plan: Plan; setPlan(p: Plan): void }) {
  const tenants = useTenantNames();
  const [search, setSearch] = useState("");
  const toggle = (id: string, on: boolean) => setPlan({ ...plan, tenantIds: on ? [...plan.tenantIds, id] : plan.tenantIds.filter((t) => t !== id) });
  return (
    <Stack>
      <Radio.Group label="Which tenants" value={plan.scope} onChange={(v) => setPlan({ ...plan, scope: v })}>
        <Group mt="xs">
          <Radio value="some" label="Chosen tenants" />
          <Radio value="all" label="Every tenant with a backup" />
        </Group>
      </Radio.Group>
      {plan.scope === "some" && (
        <>
          <TextInput label="Find tenants" placeholder="name or id" value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
          <QueryState query={tenants} what="tenants" empty={(d) => d.tenants.length === 0}>
            {(d) => (
              <Table aria-label="tenants to restore" striped>
                <Table.Tbody>
                  {d.tenants
                    .filter((t) => !search || `${t.name ?? ""} ${t.id}`.toLowerCase().includes(search.toLowerCase()))
                    .slice(0, 50)
                    .map((t) => (
                      <Table.Tr key={t.id}>
                        <Table.Td>
                          <Checkbox
                            aria-label={`Restore ${t.name ?? t.id}`}
                            checked={plan.tenantIds.includes(t.id)}
                            onChange={(e) => toggle(t.id, e.currentTarget.checked)}
                          />
                        </Table.Td>
                        <Table.Td>{t.name}</Table.Td>
                        <Table.Td className="mono">{t.id}</Table.Td>
                        <Table.Td>{when(t.lastBackup.tenant?.createdAt)}</Table.Td>
                      </Table.Tr>
                    ))}
                </Table.Tbody>
              </Table>
            )}
          </QueryState>
          <Text size="sm">{plan.tenantIds.length} chosen</Text>
        </>
      )}
    </Stack>
  );
}

/** The chosen tenant's good backups to pick one from, newest first. */
function BackupChoice({ tenantId, plan, setPlan }: { tenantId: string; plan: Plan; setPlan(p: Plan): void }) {
  const trpc = useTRPC();
  const backups = useQuery(trpc.backups.list.queryOptions({ tenantId, type: "tenant", status: ["completed", "degraded"], limit: 100 }));
  return (
    <QueryState query={backups} what={`the backups of ${tenantId}`} empty={(d) => d.length === 0}>
      {(d) => (
        <Select
          label="Backup to restore"
          data={d.map((b) => ({ value: b.id, label: `${when(b.createdAt)} · ${b.id} · ${b.status}` }))}
          value={plan.backupId || null}
          onChange={(v) => setPlan({ ...plan, backupId: v ?? "" })}
          searchable
          placeholder="choose a backup"
        />
      )}
    </QueryState>
  );
}

function SourceStep({ plan, setPlan }: { plan: Plan; setPlan(p: Plan): void }) {
  const single = oneTenant(plan);
  return (
    <Stack>
      <Radio.Group label="Backup" value={plan.source} onChange={(v) => setPlan({ ...plan, source: v })}>
        <Group mt="xs">
          <Radio value="latest" label="The latest good backup" />
          <Radio value="at" label="The latest at or before a point in time" />
          <Radio value="backup" label="A backup I choose" disabled={!single} />
        </Group>
      </Radio.Group>
      {!single && (
        <Text size="sm" c="dimmed">
          A chosen backup is one tenant&apos;s: choose exactly one tenant to pick its backup.
        </Text>
      )}
      {plan.source === "at" && (
        <TextInput type="datetime-local" label="Point in time" value={plan.at} onChange={(e) => setPlan({ ...plan, at: e.currentTarget.value })} />
      )}
      {plan.source === "backup" && single && <BackupChoice tenantId={single} plan={plan} setPlan={setPlan} />}
      <div>
        <Text size="sm" fw={500} id="provider-label">
          Provider read first (the other one is the fallback)
        </Text>
        <SegmentedControl
          aria-labelledby="provider-label"
          value={plan.from}
          onChange={(v) => setPlan({ ...plan, from: v })}
          data={[
            { value: "b2", label: "B2" },
            { value: "r2", label: "R2" },
          ]}
        />
      </div>
      <Radio.Group label="Where to" value={plan.target} onChange={(v) => setPlan({ ...plan, target: v })}>
        <Group mt="xs">
          <Radio value="production" label="Replace the tenants' rows in production" />
          <Radio value="copy" label="Copy into another database" />
        </Group>
      </Radio.Group>
      {plan.target === "copy" && (
        <>
          <TextInput
            label="Target database URL"
            placeholder="postgres://user@host:5432/copy"
            value={plan.targetDb}
            onChange={(e) => setPlan({ ...plan, targetDb: e.currentTarget.value })}
          />
          <Checkbox
            label="Copy the global tables' rows the tenants reference first"
            checked={plan.withDependencies}
            onChange={(e) => setPlan({ ...plan, withDependencies: e.currentTarget.checked })}
          />
        </>
      )}
    </Stack>
  );
}

/** The outcome per tenant of a restore operation, as backup-svc recorded it. */
function Outcomes({ id, label }: { id: string; label: string }) {
  const trpc = useTRPC();
  const detail = useQuery(trpc.restores.get.queryOptions({ id }));
  return (
    <QueryState query={detail} what={`the ${label}'s outcome`}>
      {(d) => (
        <Table aria-label={`${label} outcome`} striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Tenant</Table.Th>
              <Table.Th>Result</Table.Th>
              <Table.Th>Backup</Table.Th>
              <Table.Th>Provider</Table.Th>
              <Table.Th>Rows</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {d.tenants.map((t) => (
              <Table.Tr key={t.tenantId}>
                <Table.Td className="mono">{t.tenantId}</Table.Td>
                <Table.Td>{t.ok ? (t.verifiedOnly ? "verified" : "restored") : `failed: ${t.error?.message ?? ""}`}</Table.Td>
                <Table.Td className="mono">{t.backupId ?? "—"}</Table.Td>
                <Table.Td>{t.providerUsed?.toUpperCase() ?? "—"}</Table.Td>
                <Table.Td>{t.rows?.toLocaleString() ?? "—"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </QueryState>
  );
}

/**
 * One tenant's rows now beside the backup's, per table of the backup: what a restore will change.
 * The backup is the one the dry run verified; "now" is counted on the platform when the step opens.
 */
function RowsBeside({ tenantId, backupId }: { tenantId: string; backupId: string }) {
  const trpc = useTRPC();
  const now = useQuery(trpc.tenants.rows.queryOptions({ tenantId }));
  const backup = useQuery(trpc.backups.get.queryOptions({ id: backupId }));
  const label = `rows of ${tenantId}`;
  return (
    <QueryState query={now} what={`the rows of ${tenantId} now`}>
      {(n) => (
        <QueryState query={backup} what={`the rows of backup ${backupId}`}>
          {(bk) => <RowsTable tenantId={tenantId} backupId={backupId} current={n.tables} inBackup={bk.tables} label={label} />}
        </QueryState>
      )}
    </QueryState>
  );
}

function RowsTable(o: { tenantId: string; backupId: string; current: Record<string, number>; inBackup: Record<string, number>; label: string }) {
  const { tenantId, backupId, current, inBackup, label } = o;
  // the backup's tables first (in its order), then tables made since (the restore leaves them empty for the tenant)
  const names = [...Object.keys(inBackup), ...Object.keys(current).filter((t) => !(t in inBackup))];
  return (
    <Table aria-label={label} striped captionSide="top">
      <Table.Caption>
        {tenantId}: rows now against backup {backupId}
      </Table.Caption>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Table</Table.Th>
          <Table.Th>Rows now</Table.Th>
          <Table.Th>In the backup</Table.Th>
          <Table.Th>Change</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {names.map((t) => {
          const a = current[t] ?? 0;
          const b = inBackup[t] ?? 0;
          const change = b - a;
          return (
            <Table.Tr key={t}>
              <Table.Td className="mono">{t}</Table.Td>
              <Table.Td>{a.toLocaleString()}</Table.Td>
              <Table.Td>{t in inBackup ? b.toLocaleString() : "not in the backup"}</Table.Td>
              <Table.Td>{change === 0 ? "no change" : change > 0 ? `+${change.toLocaleString()}` : change.toLocaleString()}</Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}

const ROWS_SHOWN = 20;

/** Rows now against the backup for each tenant the dry run verified (a copy target is compared with production too: what the copy will hold). */
function RowsSummary({ dryRunId }: { dryRunId: string }) {
  const trpc = useTRPC();
  const detail = useQuery(trpc.restores.get.queryOptions({ id: dryRunId }));
  return (
    <QueryState query={detail} what="the rows per table">
      {(d) => (
        <Stack>
          <Text fw={600}>Rows now and in the backup, per table</Text>
          {d.tenants
            .filter((t) => t.ok && t.backupId)
            // every tenant of an "all" restore would be a count per table each: the first ones say enough
            .slice(0, ROWS_SHOWN)
            .map((t) => (
              <RowsBeside key={t.tenantId} tenantId={t.tenantId} backupId={t.backupId!} />
            ))}
        </Stack>
      )}
    </QueryState>
  );
}

export function RestoreScreen() {
  const trpc = useTRPC();
  const [step, setStep] = useState(0);
  const route = useRoute();
  const [plan, setPlan] = useState<Plan>(() => planFromLink(route.params));
  const [confirming, setConfirming] = useState(false);
  const [rollbackAsked, setRollbackAsked] = useState(false);
  const dryRun = useMutation(trpc.restores.create.mutationOptions());
  const restore = useMutation(trpc.restores.create.mutationOptions());
  const rollback = useMutation(trpc.restores.rollback.mutationOptions());
  const tenantIds = plan.scope === "some" ? plan.tenantIds : [];
  const dryOp = useOperation({ kind: "restore", operationId: dryRun.data?.operationId ?? null, tenantIds });
  const restoreOp = useOperation({ kind: "restore", operationId: restore.data?.operationId ?? null, tenantIds });
  const rollbackOp = useOperation({ kind: "rollback", operationId: rollback.data?.operationId ?? null });
  const restoreDetail = useQuery({
    ...trpc.restores.get.queryOptions({ id: restore.data?.operationId ?? "rst_0" }),
    enabled: Boolean(restoreOp.final),
  });

  const chosen = plan.scope === "all" || plan.tenantIds.length > 0;
  const backupOk = plan.source !== "backup" || (oneTenant(plan) !== null && plan.backupId !== "");
  const sourceOk =
    (plan.source !== "at" || plan.at !== "") && backupOk && (plan.target === "production" || /^postgres(ql)?:\/\/[^/]+\/[^/?]+/.test(plan.targetDb));
  const dryRunPassed = dryOp.final?.outcome === "completed";
  const count = plan.scope === "all" ? "all" : String(plan.tenantIds.length);
  const phrase = `restore ${count} tenant${count === "1" ? "" : "s"}`;
  const restart = () => {
    dryRun.reset();
    restore.reset();
    rollback.reset();
    setPlan(initial);
    setStep(0);
  };

  return (
    <>
      <PageHeader title="Restore tenants">
        <Button variant="default" onClick={restart}>
          Start over
        </Button>
      </PageHeader>
      <Paper withBorder p="md">
        <Stepper active={step} onStepClick={(s) => s < step && !restore.data && setStep(s)} size="sm">
          <Stepper.Step label="Tenants">
            <TenantPicker plan={plan} setPlan={setPlan} />
          </Stepper.Step>
          <Stepper.Step label="Backup and target">
            <SourceStep plan={plan} setPlan={setPlan} />
          </Stepper.Step>
          <Stepper.Step label="Dry run">
            <Stack>
              <Text>Each backup is fetched and verified (checksum, authenticated decryption); nothing is restored.</Text>
              <Group>
                <Button onClick={() => dryRun.mutate(requestOf(plan, true))} loading={dryRun.isPending} disabled={Boolean(dryRun.data && !dryOp.final)}>
                  Run the verify-only dry run
                </Button>
              </Group>
              {dryRun.isError && (
                <Alert color="red" role="alert">
                  {dryRun.error.message}
                </Alert>
              )}
              {dryRun.data && <OperationProgress label="Dry run" op={dryOp} />}
              {dryOp.final && <Outcomes id={dryRun.data!.operationId} label="dry run" />}
            </Stack>
          </Stepper.Step>
          <Stepper.Step label="Summary">
            <Stack>
              <Table aria-label="restore summary">
                <Table.Tbody>
                  <Table.Tr>
                    <Table.Th>Tenants</Table.Th>
                    <Table.Td>{plan.scope === "all" ? "every tenant with a backup" : plan.tenantIds.join(", ")}</Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th>Backup</Table.Th>
                    <Table.Td>
                      {plan.source === "latest"
                        ? "the latest good one"
                        : plan.source === "backup"
                          ? plan.backupId
                          : `the latest at or before ${new Date(plan.at).toLocaleString()}`}
                    </Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th>Provider</Table.Th>
                    <Table.Td>{plan.from.toUpperCase()} first</Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th>Target</Table.Th>
                    <Table.Td>
                      {plan.target === "production" ? "production: each tenant's rows are replaced (a rollback point is taken first)" : plan.targetDb}
                    </Table.Td>
                  </Table.Tr>
                </Table.Tbody>
              </Table>
              {dryRun.data && <Outcomes id={dryRun.data.operationId} label="what will be restored" />}
              {dryRun.data && <RowsSummary dryRunId={dryRun.data.operationId} />}
            </Stack>
          </Stepper.Step>
          <Stepper.Step label="Restore">
            <Stack>
              {!restore.data && (
                <Group>
                  <Button color="red" onClick={() => setConfirming(true)}>
                    Restore…
                  </Button>
                </Group>
              )}
              {restore.isError && (
                <Alert color="red" role="alert">
                  {restore.error.message}
                </Alert>
              )}
              {restore.data && <OperationProgress label="Restore" op={restoreOp} />}
              {restoreOp.final && <Outcomes id={restore.data!.operationId} label="restore" />}
              {restoreDetail.data?.rollbackAvailable && !rollback.data && (
                <Group>
                  <Button color="violet" onClick={() => setRollbackAsked(true)}>
                    Roll back this restore
                  </Button>
                </Group>
              )}
              {restoreDetail.data && (
                <Text size="sm">
                  Status: <StatusBadge status={restoreDetail.data.status} />
                </Text>
              )}
              {rollback.isError && (
                <Alert color="red" role="alert">
                  {rollback.error.message}
                </Alert>
              )}
              {rollback.data && <OperationProgress label="Rollback" op={rollbackOp} />}
            </Stack>
          </Stepper.Step>
        </Stepper>
        <Group justify="space-between" mt="lg">
          <Button variant="default" onClick={() => setStep(step - 1)} disabled={step === 0 || Boolean(restore.data)}>
            Back
          </Button>
          {step < 4 && (
            <Button onClick={() => setStep(step + 1)} disabled={(step === 0 && !chosen) || (step === 1 && !sourceOk) || (step === 2 && !dryRunPassed)}>
              Next
            </Button>
          )}
        </Group>
      </Paper>
      <TypedConfirm
        opened={confirming}
        title="Restore tenants"
        phrase={phrase}
        label="Confirmation"
        action="Start the restore"
        onClose={() => setConfirming(false)}
        onConfirm={() => {
          setConfirming(false);
          restore.mutate(requestOf(plan, false));
        }}
      >
        <Text>
          {plan.target === "production"
            ? "The tenants' rows in production are replaced by the backup's, one transaction per tenant. A rollback point is taken first."
            : `The backups are copied into ${plan.targetDb}; production is not touched.`}
        </Text>
      </TypedConfirm>
      <TypedConfirm
        opened={rollbackAsked}
        title="Roll back the restore"
        phrase="roll back"
        label="Rollback confirmation"
        action="Roll back"
        onClose={() => setRollbackAsked(false)}
        onConfirm={() => {
          setRollbackAsked(false);
          rollback.mutate({ operationId: restore.data!.operationId });
        }}
      >
        <Text>Each tenant's rows are put back as they were just before this restore.</Text>
      </TypedConfirm>
    </>
  );
}
