import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { BusObserver } from "@hesaab/bus";
import type { Message } from "@hesaab/contracts";
import { observeStorageOps, type StorageOpEvent } from "@hesaab/storage";

/**
 * Size buckets of a backup (its stored, compressed and encrypted size): a bounded label for the
 * duration histogram, so a slow night can be told apart from a night with bigger tenants.
 */
export const SIZE_BUCKETS = [
  { label: "lt_1mb", max: 1 << 20 },
  { label: "1mb_10mb", max: 10 << 20 },
  { label: "10mb_100mb", max: 100 << 20 },
  { label: "100mb_1gb", max: 1 << 30 },
  { label: "gt_1gb", max: Number.POSITIVE_INFINITY },
] as const;

export function sizeBucket(bytes: number): string {
  return SIZE_BUCKETS.find((b) => bytes < b.max)!.label;
}

const DURATION_BUCKETS_SECONDS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
const REQUEST_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const RATIO_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1, 1.5];

/** Entries a correlation map (restore id → start, disaster backups seen) keeps: a bound on memory, not a rule. */
const MAX_TRACKED = 10_000;

/** One gauge sample of what the catalog says a provider holds (storage-ops' `storageAnalytics`). */
export interface ProviderUsage {
  provider: string;
  bytes: number;
  objects: number;
  /** Estimated monthly cost in US dollars. */
  monthlyCostUsd: number;
}

/**
 * Every metric a HesaabPlus Backup process exposes. Names follow brief §6: `hesaab_` prefix, the
 * unit in the name, labels from small fixed sets (provider, type, outcome, op) and never a tenant id.
 * One instance per process (each service, the gateway); its `registry` is what `/metrics` serves.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  readonly backupsStarted = this.#counter("hesaab_backups_started_total", "Backups started (each attempt)", ["type"]);
  readonly backupsFinished = this.#counter(
    "hesaab_backups_finished_total",
    "Backups finished, by outcome: completed, degraded (one provider missing), failed (for good), retried (an attempt failed, another follows)",
    ["type", "outcome"],
  );
  readonly backupDuration = new Histogram({
    name: "hesaab_backup_duration_seconds",
    help: "Time a backup took, by the size bucket of what it stored",
    labelNames: ["type", "size_bucket"],
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  readonly backupSourceBytes = this.#counter("hesaab_backup_source_bytes_total", "Bytes read from the database by finished backups (before compression)", [
    "type",
  ]);
  readonly backupStoredBytes = this.#counter(
    "hesaab_backup_stored_bytes_total",
    "Bytes written per provider copy by finished backups (compressed, encrypted)",
    ["type"],
  );
  readonly backupRows = this.#counter("hesaab_backup_rows_total", "Rows exported by finished tenant backups", ["type"]);
  readonly compressionRatio = new Histogram({
    name: "hesaab_backup_compression_ratio",
    help: "Stored bytes over source bytes of a finished tenant backup",
    labelNames: ["type"],
    buckets: RATIO_BUCKETS,
    registers: [this.registry],
  });
  readonly providerUploads = this.#counter("hesaab_backup_provider_uploads_total", "A finished backup's copy in each provider, by outcome (ok, failed)", [
    "type",
    "provider",
    "outcome",
  ]);
  readonly restores = this.#counter("hesaab_restores_total", "Restores finished, by outcome (completed, partial, failed)", ["outcome"]);
  readonly restoreDuration = new Histogram({
    name: "hesaab_restore_duration_seconds",
    help: "Time from a restore's first progress report to its outcome",
    labelNames: ["outcome"],
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  readonly restoredTenants = this.#counter("hesaab_restored_tenants_total", "Tenants of finished restores, by outcome (ok, failed)", ["outcome"]);
  readonly storageRequestDuration = new Histogram({
    name: "hesaab_storage_request_duration_seconds",
    help: "Storage provider requests (every attempt, retries included), by provider, operation and outcome",
    labelNames: ["provider", "op", "outcome"],
    buckets: REQUEST_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  readonly storageRequestErrors = this.#counter("hesaab_storage_request_errors_total", "Failed storage provider requests, by error code", [
    "provider",
    "op",
    "code",
  ]);
  readonly storageTransferBytes = this.#counter("hesaab_storage_transfer_bytes_total", "Bytes sent (put) to or received (get) from a provider", [
    "provider",
    "op",
  ]);
  readonly verifications = this.#counter("hesaab_verifications_total", "Verification results of stored copies, by provider, depth and outcome (ok, failed)", [
    "provider",
    "depth",
    "outcome",
  ]);
  readonly replicasDegraded = this.#counter("hesaab_replicas_degraded_total", "Copies found missing or corrupt, or not uploaded, by provider and reason", [
    "provider",
    "reason",
  ]);
  readonly replicasHealed = this.#counter("hesaab_replicas_healed_total", "Copies healed from the other provider", ["provider"]);
  readonly exportsRequested = this.#counter("hesaab_customer_exports_requested_total", "Customer self-backups requested (taken up by a worker)", []);
  readonly exportsBuilt = this.#counter("hesaab_customer_exports_built_total", "Customer self-backups built, by outcome (ready, failed)", ["outcome"]);
  readonly exportsServed = this.#counter("hesaab_customer_exports_served_total", "Customer self-backups downloaded whole", []);
  readonly exportsRefused = this.#counter("hesaab_customer_exports_refused_total", "Customer self-backup downloads or requests refused, by error code", [
    "code",
  ]);
  readonly alertsRaised = this.#counter("hesaab_alerts_raised_total", "Alerts raised, by severity", ["severity"]);
  readonly busRedeliveries = this.#counter("hesaab_bus_redeliveries_total", "JetStream messages delivered again after a failed or lost attempt, by consumer", [
    "durable",
  ]);
  readonly busDeadLetters = this.#counter("hesaab_bus_dead_letters_total", "JetStream messages moved to the dead-letter stream, by consumer and reason", [
    "durable",
    "reason",
  ]);
  readonly dependencyUp = new Gauge({
    name: "hesaab_dependency_up",
    help: "1 when a dependency answered the last readiness check (postgres, nats, each provider), 0 when it did not",
    labelNames: ["dependency"],
    registers: [this.registry],
  });

  readonly #restoreStarts = new Map<string, number>();
  readonly #disasterSeen = new Map<string, number>();

  constructor({ service, defaultMetrics = true }: { service: string; defaultMetrics?: boolean }) {
    this.registry.setDefaultLabels({ service });
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  #counter(name: string, help: string, labelNames: string[]): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** The Prometheus text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Names of every metric this process exposes (the monitoring files' test checks them against it). */
  async names(): Promise<string[]> {
    return (await this.registry.getMetricsAsJSON()).map((m) => m.name);
  }

  /** Every metric with its label names (without the default `service`), for checks of the dashboards and rules. */
  describe(): { name: string; labelNames: string[] }[] {
    // prom-client keeps each metric's label names on the metric object (not in its JSON form)
    return this.registry
      .getMetricsAsArray()
      .map((m) => ({ name: (m as unknown as { name: string }).name, labelNames: [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])] }));
  }

  /** Hooks for `connectBus({ observer })`: outcome events become metrics, deliveries count redeliveries. */
  busObserver(): BusObserver {
    return {
      published: (message) => this.recordMessage(message),
      delivered: ({ durable, attempt }) => {
        if (attempt > 1) this.busRedeliveries.inc({ durable });
      },
      deadLettered: ({ durable, reason }) => this.busDeadLetters.inc({ durable, reason }),
    };
  }

  /** Every metered storage backend of the process reports here. Returns the function that stops it. */
  observeStorage(): () => void {
    return observeStorageOps((event) => this.recordStorageOp(event));
  }

  recordStorageOp(event: StorageOpEvent): void {
    const outcome = event.ok ? "ok" : "error";
    this.storageRequestDuration.observe({ provider: event.provider, op: event.op, outcome }, event.ms / 1000);
    if (!event.ok) this.storageRequestErrors.inc({ provider: event.provider, op: event.op, code: event.error?.code ?? "unknown" });
    if ((event.op === "put" || event.op === "get") && event.bytes) this.storageTransferBytes.inc({ provider: event.provider, op: event.op }, event.bytes);
  }

  /**
   * Turns one published message into metrics. The workers already publish every outcome (the
   * progress stream and the alerts are built on them), so the metrics count what the events say
   * and stay right whichever code path produced them.
   */
  recordMessage(message: Message): void {
    switch (message.type) {
      case "backup.tenant.started.v1":
        this.backupsStarted.inc({ type: "tenant" });
        break;
      case "backup.tenant.completed.v1": {
        const { status, size, rows, durationMs, sourceBytes: source, providers } = message.data;
        this.#backupFinished({ type: "tenant", status, size, durationMs, providers });
        this.backupRows.inc({ type: "tenant" }, rows);
        if (source) {
          this.backupSourceBytes.inc({ type: "tenant" }, source);
          this.compressionRatio.observe({ type: "tenant" }, size / source);
        }
        break;
      }
      case "backup.tenant.failed.v1":
        this.backupsFinished.inc({ type: "tenant", outcome: message.data.final ? "failed" : "retried" });
        break;
      case "dr.backup.progress.v1":
        // a disaster backup has no started event: its first progress report is its start
        if (!this.#disasterSeen.has(message.data.backupId)) {
          this.#track(this.#disasterSeen, message.data.backupId, 0);
          this.backupsStarted.inc({ type: "disaster" });
        }
        break;
      case "dr.backup.completed.v1": {
        const { status, size, durationMs, providers } = message.data;
        this.#disasterSeen.delete(message.data.backupId);
        this.#backupFinished({ type: "disaster", status, size, durationMs, providers });
        break;
      }
      case "dr.backup.failed.v1":
        this.backupsFinished.inc({ type: "disaster", outcome: message.data.final ? "failed" : "retried" });
        break;
      case "restore.progress.v1":
        if (!this.#restoreStarts.has(message.data.operationId)) this.#track(this.#restoreStarts, message.data.operationId, performance.now());
        break;
      case "restore.completed.v1":
      case "restore.failed.v1": {
        const outcome = message.type === "restore.failed.v1" ? "failed" : message.data.status;
        this.restores.inc({ outcome });
        const started = this.#restoreStarts.get(message.data.operationId);
        this.#restoreStarts.delete(message.data.operationId);
        if (started !== undefined) this.restoreDuration.observe({ outcome }, (performance.now() - started) / 1000);
        for (const t of message.data.tenants) this.restoredTenants.inc({ outcome: t.ok ? "ok" : "failed" });
        break;
      }
      case "storage.verification.result.v1":
        this.verifications.inc({ provider: message.data.provider, depth: message.data.depth, outcome: message.data.ok ? "ok" : "failed" });
        break;
      case "storage.replica.degraded.v1":
        this.replicasDegraded.inc({ provider: message.data.provider, reason: message.data.reason });
        break;
      case "storage.replica.healed.v1":
        this.replicasHealed.inc({ provider: message.data.provider });
        break;
      case "export.customer.ready.v1":
        this.exportsBuilt.inc({ outcome: "ready" });
        break;
      case "export.customer.failed.v1":
        this.exportsBuilt.inc({ outcome: "failed" });
        break;
      case "alert.raised.v1":
        this.alertsRaised.inc({ severity: message.data.severity });
        break;
      default:
        break;
    }
  }

  #backupFinished(b: { type: string; status: string; size: number; durationMs: number; providers: { provider: string; ok: boolean }[] }): void {
    this.backupsFinished.inc({ type: b.type, outcome: b.status });
    this.backupDuration.observe({ type: b.type, size_bucket: sizeBucket(b.size) }, b.durationMs / 1000);
    this.backupStoredBytes.inc({ type: b.type }, b.size);
    for (const p of b.providers) this.providerUploads.inc({ type: b.type, provider: p.provider, outcome: p.ok ? "ok" : "failed" });
  }

  #track(map: Map<string, number>, key: string, value: number): void {
    map.set(key, value);
    if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
  }

  /**
   * The work queues' depth, per durable consumer (a fixed set of names): messages waiting and
   * delivered but not yet acknowledged, read from JetStream when Prometheus scrapes.
   */
  queueDepthGauges(read: () => Promise<{ durable: string; pending: number; unacked: number }[]>): void {
    let last: { at: number; rows: Promise<{ durable: string; pending: number; unacked: number }[]> } | undefined;
    const rows = () => {
      // one read serves both gauges of a scrape
      if (!last || performance.now() - last.at > 1000) last = { at: performance.now(), rows: read().catch(() => []) };
      return last.rows;
    };
    const gauge = (name: string, help: string, value: (r: { pending: number; unacked: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["consumer"],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const r of await rows()) this.set({ consumer: r.durable }, value(r));
        },
      });
    gauge("hesaab_queue_pending_messages", "Messages waiting for a consumer of the work queues (JetStream num_pending)", (r) => r.pending);
    gauge("hesaab_queue_unacked_messages", "Messages delivered to a consumer and not yet acknowledged", (r) => r.unacked);
  }

  /**
   * Gauges of what each provider holds and its estimated monthly cost, read from `read` when
   * Prometheus scrapes, at most once per `maxAgeMs` (the analytics queries scan the catalog).
   */
  storageUsageGauges(read: () => Promise<ProviderUsage[]>, { maxAgeMs = 5 * 60_000 }: { maxAgeMs?: number } = {}): void {
    let cached: { at: number; rows: Promise<ProviderUsage[]> } | undefined;
    const rows = (): Promise<ProviderUsage[]> => {
      if (!cached || performance.now() - cached.at > maxAgeMs) {
        const pending = read().catch(() => [] as ProviderUsage[]);
        cached = { at: performance.now(), rows: pending };
      }
      return cached.rows;
    };
    const gauge = (name: string, help: string, value: (u: ProviderUsage) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["provider"],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const u of await rows()) this.set({ provider: u.provider }, value(u));
        },
      });
    gauge("hesaab_storage_stored_bytes", "Bytes each provider holds, according to the catalog", (u) => u.bytes);
    gauge("hesaab_storage_stored_objects", "Objects each provider holds, according to the catalog", (u) => u.objects);
    gauge("hesaab_storage_estimated_monthly_cost_usd", "Estimated monthly cost of each provider, in US dollars", (u) => u.monthlyCostUsd);
  }
}
