// Disaster recovery: the whole platform's backups (each provider's copy, the deployed commit), a backup
// now with live progress, and a restore into another database behind two confirmations: the database
// name typed again, then an explicit "I understand" before the button that starts it.
import { Alert, Anchor, Button, Checkbox, Code, Drawer, Group, Modal, Paper, SegmentedControl, Stack, Table, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import runbook from "../../../../docs/runbook-disaster-recovery.md?raw";
import { useTRPC } from "../trpc";
import { bytes, OperationProgress, PageHeader, ProviderBadges, QueryState, StatusBadge, useOperation, when, type Outputs } from "../ui";

type DisasterBackup = Outputs["dr"]["list"]["backups"][number];

/** The restore's confirmation workflow: target and options, the name typed again, a second confirmation. */
function RestoreDialog({ backup, onClose, onStarted }: { backup: DisasterBackup | null; onClose(): void; onStarted(id: string): void }) {
  const trpc = useTRPC();
  const [targetDb, setTargetDb] = useState("");
  const [typed, setTyped] = useState("");
  const [from, setFrom] = useState<"b2" | "r2">("b2");
  const [skipRoles, setSkipRoles] = useState(false);
  const [stage, setStage] = useState<"target" | "confirm">("target");
  const [understood, setUnderstood] = useState(false);
  const restore = useMutation(
    trpc.dr.restore.mutationOptions({
      onSuccess: (d) => {
        onStarted(d.operationId);
        close();
      },
    }),
  );
  function close() {
    setTyped("");
    setStage("target");
    setUnderstood(false);
    restore.reset();
    onClose();
  }
  return (
    <Modal
      closeButtonProps={{ "aria-label": "Close" }}
      lockScroll={false}
      opened={Boolean(backup)}
      onClose={close}
      title="Restore the platform into a database"
      size="lg"
      centered
    >
      {backup && stage === "target" && (
        <Stack>
          <Text>
            Backup <Code>{backup.id}</Code> of {when(backup.createdAt)} (commit <Code>{backup.gitCommit?.slice(0, 12) ?? "unknown"}</Code>).
          </Text>
          <TextInput
            label="Target database"
            description="A database name on the platform's server (created if missing) or a postgres URL; never the platform's own database"
            value={targetDb}
            onChange={(e) => setTargetDb(e.currentTarget.value)}
          />
          <div>
            <Text size="sm" fw={500} id="dr-provider-label">
              Provider read first
            </Text>
            <SegmentedControl
              aria-labelledby="dr-provider-label"
              value={from}
              onChange={(v) => setFrom(v)}
              data={[
                { value: "b2", label: "B2" },
                { value: "r2", label: "R2" },
              ]}
            />
          </div>
          <Checkbox label="Skip creating the backup's roles" checked={skipRoles} onChange={(e) => setSkipRoles(e.currentTarget.checked)} />
          <TextInput
            label="Type the target database again"
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            autoComplete="off"
            error={typed && typed !== targetDb ? "does not match the target database" : undefined}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button disabled={targetDb.trim() === "" || typed !== targetDb} onClick={() => setStage("confirm")}>
              Continue
            </Button>
          </Group>
        </Stack>
      )}
      {backup && stage === "confirm" && (
        <Stack>
          <Alert color="red" title="Second confirmation">
            The whole platform of {when(backup.createdAt)} is restored into <Code>{targetDb}</Code>. The gateway refuses the platform's own database and a
            database that is not empty.
          </Alert>
          <Checkbox label={`I understand: restore into ${targetDb}`} checked={understood} onChange={(e) => setUnderstood(e.currentTarget.checked)} />
          {restore.isError && (
            <Alert color="red" role="alert" title="Refused">
              {restore.error.message}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setStage("target")}>
              Back
            </Button>
            <Button
              color="red"
              disabled={!understood}
              loading={restore.isPending}
              onClick={() => restore.mutate({ backupId: backup.id, targetDb, from, skipRoles })}
            >
              Restore into {targetDb}
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}

export function DisasterRecoveryScreen() {
  const trpc = useTRPC();
  const client = useQueryClient();
  const list = useQuery({ ...trpc.dr.list.queryOptions({}), refetchInterval: 15_000 });
  const create = useMutation(trpc.dr.create.mutationOptions());
  const backupOp = useOperation({ kind: "disaster_backup", operationId: create.data?.operationId ?? null });
  const [restoring, setRestoring] = useState<DisasterBackup | null>(null);
  const [restoreOpId, setRestoreOpId] = useState<string | null>(null);
  const restoreOp = useOperation({ kind: "disaster_restore", operationId: restoreOpId });
  const [showRunbook, setShowRunbook] = useState(false);
  // a finished backup is in the catalog now: list it without waiting for the next poll
  const finished = Boolean(backupOp.final);
  useEffect(() => {
    if (finished) void client.invalidateQueries({ queryKey: trpc.dr.list.queryKey() });
  }, [finished, client, trpc]);
  const latest = list.data?.backups[0];
  return (
    <>
      <PageHeader title="Disaster recovery">
        <Anchor component="button" onClick={() => setShowRunbook(true)}>
          Runbook (docs/runbook-disaster-recovery.md)
        </Anchor>
        <Button onClick={() => create.mutate()} loading={create.isPending} disabled={Boolean(create.data && !backupOp.final)}>
          Back up the platform now
        </Button>
      </PageHeader>
      <Paper withBorder p="md" mb="md">
        <Text>
          Nightly: a <Code>pg_dump -Fc</Code> of the whole database with the configuration and the deployed commit, encrypted with the platform key, in both
          clouds for 90 days. Latest: {latest ? `${when(latest.createdAt)} (${latest.status})` : "none yet"}.
        </Text>
        {create.isError && (
          <Alert color="red" role="alert" mt="sm">
            {create.error.message}
          </Alert>
        )}
        {create.data && (
          <Stack mt="sm">
            <OperationProgress label="Disaster backup" op={backupOp} />
            {backupOp.final && <Text size="sm">Written: {bytes(backupOp.final.bytes)}</Text>}
          </Stack>
        )}
        {restoreOpId && (
          <Stack mt="sm">
            <OperationProgress label="Disaster restore" op={restoreOp} />
          </Stack>
        )}
      </Paper>
      <QueryState query={list} what="disaster backups" empty={(d) => d.backups.length === 0}>
        {(d) => (
          <Table striped aria-label="disaster backups">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Backup</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Copies</Table.Th>
                <Table.Th>Commit</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>Database</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {d.backups.map((b) => (
                <Table.Tr key={b.id}>
                  <Table.Td className="mono">{b.id}</Table.Td>
                  <Table.Td>{when(b.createdAt)}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={b.status} />
                  </Table.Td>
                  <Table.Td>
                    <ProviderBadges copies={b.copies} />
                  </Table.Td>
                  <Table.Td className="mono">{b.gitCommit?.slice(0, 12) ?? "—"}</Table.Td>
                  <Table.Td>{bytes(b.size)}</Table.Td>
                  <Table.Td>
                    {b.databaseName ?? "—"} · {bytes(b.databaseSizeBytes)} · {b.tables ?? "?"} tables
                  </Table.Td>
                  <Table.Td>{when(b.expiresAt)}</Table.Td>
                  <Table.Td>
                    <Button
                      size="xs"
                      variant="light"
                      color="red"
                      onClick={() => setRestoring(b)}
                      disabled={b.status !== "completed" && b.status !== "degraded"}
                    >
                      Restore…
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
      <RestoreDialog
        backup={restoring}
        onClose={() => setRestoring(null)}
        onStarted={(id) => {
          setRestoreOpId(id);
          setRestoring(null);
        }}
      />
      <Drawer
        closeButtonProps={{ "aria-label": "Close" }}
        lockScroll={false}
        opened={showRunbook}
        onClose={() => setShowRunbook(false)}
        position="right"
        size="xl"
        title="Disaster recovery runbook"
      >
        <div className="runbook">{runbook}</div>
      </Drawer>
    </>
  );
}
