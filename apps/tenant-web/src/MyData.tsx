// The one screen: today's limit, the request, live progress of a copy being prepared, the history and its downloads.
import { Alert, Badge, Button, Card, Group, Progress, Skeleton, Stack, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription, type inferOutput, type TRPCOptionsProxy } from "@trpc/tanstack-react-query";
import type { AppRouter } from "@hesaab/api";
import { useI18n } from "./i18n";
import { useTRPC } from "./trpc";

type Exports = TRPCOptionsProxy<AppRouter>["tenant"]["exports"];
type Copy = inferOutput<Exports["list"]>["exports"][number];
type LimitStatus = inferOutput<Exports["status"]>;

const preparing = (status: string) => status === "pending" || status === "running";

/** The list and the limit change together: a request, a copy that ends. */
function useRefreshExports() {
  const trpc = useTRPC();
  const client = useQueryClient();
  return () =>
    Promise.all([
      client.invalidateQueries({ queryKey: trpc.tenant.exports.list.queryKey() }),
      client.invalidateQueries({ queryKey: trpc.tenant.exports.status.queryKey() }),
    ]);
}

export function MyData() {
  const trpc = useTRPC();
  const { t } = useI18n();
  const me = useQuery(trpc.tenant.me.queryOptions());
  if (me.isPending) {
    return (
      <Text role="status" c="dimmed">
        {t.signingIn}
      </Text>
    );
  }
  if (me.isError) {
    const signedOut = me.error.data?.code === "UNAUTHORIZED" || me.error.data?.code === "FORBIDDEN";
    return (
      <Alert role="alert" color="red" title={t.sessionProblem}>
        <Text size="sm">{signedOut ? t.signInNeeded : me.error.message}</Text>
        {!signedOut && (
          <Button mt="sm" variant="light" onClick={() => void me.refetch()}>
            {t.retry}
          </Button>
        )}
      </Alert>
    );
  }
  return (
    <Stack gap="lg">
      <Text>{t.intro}</Text>
      <DailyLimit role={me.data.role} roleRefusal={me.data.canExport ? null : me.data.exportRefusal} />
      <History />
    </Stack>
  );
}

/** Today's limit (used of one, when it frees up) and the one button that spends it. */
function DailyLimit({ role, roleRefusal }: { role: string; roleRefusal: string | null }) {
  const trpc = useTRPC();
  const { t } = useI18n();
  const refresh = useRefreshExports();
  const status = useQuery(trpc.tenant.exports.status.queryOptions());
  const request = useMutation(trpc.tenant.exports.request.mutationOptions({ onSettled: () => refresh() }));

  return (
    <Card withBorder radius="md" padding="md" component="section" aria-labelledby="limit-title">
      <Title order={2} size="h4" id="limit-title" mb="xs">
        {t.limitTitle}
      </Title>
      {status.isPending && <Skeleton height={48} aria-label={t.loading} />}
      {status.isError && <LoadError message={status.error.message} retry={() => void status.refetch()} />}
      {status.data && <LimitFigures status={status.data} />}
      <Button
        mt="md"
        fullWidth
        size="md"
        className="wrapping-button"
        disabled={!status.data?.canRequest || request.isPending}
        loading={request.isPending}
        loaderProps={{ "aria-label": t.requesting }}
        onClick={() => request.mutate()}
        aria-describedby={roleRefusal ? "role-refusal" : undefined}
      >
        {status.data?.askedToday ? t.requested : t.request}
      </Button>
      {roleRefusal && (
        <Text id="role-refusal" size="sm" mt="xs" c="dimmed">
          {t.roleRefused(role, roleRefusal)}
        </Text>
      )}
      {request.isError && (
        <Alert role="alert" color="red" mt="sm" title={t.requestFailed}>
          {request.error.message}
        </Alert>
      )}
    </Card>
  );
}

function LimitFigures({ status }: { status: LimitStatus }) {
  const { t, f } = useI18n();
  const used = status.askedToday ? 1 : 0;
  return (
    <Stack gap={6}>
      <Text fw={600} className="tabular">
        {t.limitUsed(f.integer(used), f.integer(status.dailyLimit))}
      </Text>
      <Progress.Root size="sm" aria-hidden>
        <Progress.Section value={(used / status.dailyLimit) * 100} color={used >= status.dailyLimit ? "gray" : "green"} withAria={false} />
      </Progress.Root>
      <Text size="sm" c="dimmed">
        {used >= status.dailyLimit ? t.limitResets(f.dateTime(status.resetsAt), f.fromNow(status.resetsAt)) : t.limitFree}
      </Text>
    </Stack>
  );
}

function LoadError({ message, retry, title }: { message: string; retry: () => void; title?: string }) {
  const { t } = useI18n();
  return (
    <Alert role="alert" color="red" title={title}>
      <Text size="sm">{message}</Text>
      <Button mt="xs" size="xs" variant="light" onClick={retry}>
        {t.retry}
      </Button>
    </Alert>
  );
}

/** The tenant's copies, newest first; while one is prepared the list is read again every few seconds. */
function History() {
  const trpc = useTRPC();
  const { t } = useI18n();
  const list = useQuery({
    ...trpc.tenant.exports.list.queryOptions(),
    // download links last 15 minutes: renew them while any is shown
    refetchInterval: (q) => {
      const copies = q.state.data?.exports ?? [];
      if (copies.some((e) => preparing(e.status))) return 3000;
      return copies.some((e) => e.downloadUrl) ? 5 * 60_000 : false;
    },
  });
  return (
    <section aria-labelledby="history-title" aria-busy={list.isPending}>
      <Title order={2} size="h4" id="history-title" mb="sm">
        {t.historyTitle}
      </Title>
      {list.isPending && (
        <Stack gap="sm" aria-label={t.loading}>
          <Skeleton height={88} radius="md" />
          <Skeleton height={88} radius="md" />
        </Stack>
      )}
      {list.isError && <LoadError title={t.historyError} message={list.error.message} retry={() => void list.refetch()} />}
      {list.data?.exports.length === 0 && (
        <Card withBorder radius="md" padding="lg">
          <Text fw={600}>{t.historyEmpty}</Text>
          <Text size="sm" c="dimmed">
            {t.historyEmptyHint}
          </Text>
        </Card>
      )}
      {list.data && list.data.exports.length > 0 && (
        <Stack component="ul" className="copies" gap="sm">
          {list.data.exports.map((copy) => (
            <CopyCard key={copy.id} copy={copy} />
          ))}
        </Stack>
      )}
    </section>
  );
}

const BADGE_COLOR: Record<string, string> = { ready: "green", failed: "red", expired: "gray", pending: "blue", running: "blue" };

function CopyCard({ copy }: { copy: Copy }) {
  const { t, f } = useI18n();
  const day = f.day(copy.day);
  return (
    <Card component="li" withBorder radius="md" padding="md" aria-label={day}>
      <Group justify="space-between" gap="xs" wrap="nowrap" align="flex-start">
        <Text fw={600}>{day}</Text>
        <Badge color={BADGE_COLOR[copy.status] ?? "gray"} variant="light" style={{ flexShrink: 0 }}>
          {t.status[copy.status] ?? copy.status}
        </Badge>
      </Group>
      {preparing(copy.status) && <Preparing exportId={copy.id} />}
      {copy.status === "failed" && (
        <Text size="sm" c="dimmed" mt="xs">
          {t.failedHint}
        </Text>
      )}
      {(copy.size !== null || copy.expiresAt) && (
        <Group gap="lg" mt="xs" className="tabular">
          {copy.size !== null && (
            <Text size="sm">
              <Text span c="dimmed" size="sm">
                {t.size}:{" "}
              </Text>
              {f.size(copy.size)}
            </Text>
          )}
          {copy.expiresAt && (
            <Text size="sm">
              <Text span c="dimmed" size="sm">
                {copy.status === "ready" ? t.availableUntil : t.expiredOn}:{" "}
              </Text>
              {f.dateTime(copy.expiresAt)}
            </Text>
          )}
        </Group>
      )}
      {copy.status === "ready" && <DownloadState copy={copy} day={day} />}
    </Card>
  );
}

function DownloadState({ copy, day }: { copy: Copy; day: string }) {
  const { t, f } = useI18n();
  if (!copy.downloadUrl) {
    return (
      <Text size="sm" c="dimmed" mt="xs">
        {t.notDownloadable}
      </Text>
    );
  }
  return (
    <Group mt="sm" gap="sm" align="center">
      {/* a plain link: the gateway answers with the ZIP as an attachment, the browser saves it */}
      <Button component="a" href={copy.downloadUrl} aria-label={t.downloadOf(day)} variant="filled">
        {t.download}
      </Button>
      {copy.downloads > 0 && (
        <Text size="sm" c="dimmed">
          {t.downloaded(f.integer(copy.downloads))}
        </Text>
      )}
    </Group>
  );
}

/** A copy being prepared, live (the gateway relays its progress events over SSE): percent, rows so far. */
function Preparing({ exportId }: { exportId: string }) {
  const trpc = useTRPC();
  const { t, f } = useI18n();
  const refresh = useRefreshExports();
  const progress = useSubscription(
    trpc.tenant.exports.progress.subscriptionOptions(
      { exportId },
      {
        onData: ({ data }) => {
          if (data.final) void refresh();
        },
      },
    ),
  );
  const view = progress.data?.data;
  const percent = view?.percent;
  const text = percent === undefined ? t.waiting : t.progress(f.percent(percent / 100), view?.rows !== undefined ? f.integer(view.rows) : null);
  return (
    <Stack gap={4} mt="xs">
      <Progress.Root size="lg" radius="sm">
        <Progress.Section
          value={percent ?? 100}
          striped={percent === undefined}
          animated={percent === undefined}
          withAria={false}
          role="progressbar"
          aria-label={t.progressLabel}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent === undefined ? undefined : Math.round(percent)}
          aria-valuetext={text}
        />
      </Progress.Root>
      <Text size="sm" className="tabular" aria-live="polite">
        {text}
      </Text>
    </Stack>
  );
}
