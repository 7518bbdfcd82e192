// Live progress: the events of one operation, read from the event stream (JetStream keeps them), folded
// into what a client shows. Each view's id is the event's stream sequence, so a client that reconnects
// with its last id resumes right after it: the fold starts again at the operation's first event (for
// percent and ETA), and only what comes after that id is sent.
import { idTime, type Event } from "@hesaab/contracts";

/** What a subscriber gets per event: at least the id and type; the rest when the event says it. */
export interface ProgressView {
  /** The event's stream sequence (the SSE event id: resume after it). */
  id: string;
  type: Event["type"];
  tenantId?: string;
  /** 0–100, never lower than the one before (a retry starting again does not go back). */
  percent?: number;
  bytes?: number;
  rows?: number;
  table?: string;
  phase?: string;
  /** Seconds left at the pace so far: elapsed × (100 − percent) / percent, both from the events' own times. */
  etaSeconds?: number;
  /** The operation ended: this is the last view, the subscription ends after it. */
  final?: true;
  outcome?: "completed" | "degraded" | "spooled" | "partial" | "failed" | "ready" | "mismatched";
  error?: { code: string; message: string };
}

/** What `progress.operation` follows: the kind says which events carry the operation's progress. */
export const OPERATION_KINDS = ["backup", "restore", "rollback", "disaster_backup", "disaster_restore", "verification"] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number] | "export";

/** The event types of each kind of operation. */
export const PROGRESS_TYPES: Record<OperationKind, readonly Event["type"][]> = {
  backup: ["backup.tenant.started.v1", "backup.tenant.progress.v1", "backup.tenant.completed.v1", "backup.tenant.spooled.v1", "backup.tenant.failed.v1"],
  restore: ["restore.progress.v1", "restore.completed.v1", "restore.failed.v1"],
  /** A rollback (its id is the restore's): the outcome only; the snapshots it restores are restores of their own. */
  rollback: ["restore.rolled_back.v1"],
  disaster_backup: ["dr.backup.progress.v1", "dr.backup.completed.v1", "dr.backup.failed.v1"],
  disaster_restore: ["dr.restore.progress.v1", "dr.restore.completed.v1", "dr.restore.failed.v1"],
  verification: ["storage.verify.progress.v1", "storage.verify.completed.v1"],
  export: ["export.customer.progress.v1", "export.customer.ready.v1", "export.customer.failed.v1"],
};

/** Reads events of some types from a stream sequence (exclusive) or a time on; the gateway gives the bus's `readEvents`. */
export type ReadEvents = (o: {
  types: readonly Event["type"][];
  afterSeq?: number | undefined;
  since?: Date | undefined;
  signal?: AbortSignal | undefined;
}) => AsyncIterable<{ seq: number; message: Event }>;

/** How far before an operation's id time reading starts: the clocks of the gateway and the workers may differ a little. */
export const CLOCK_SLACK_MS = 60_000;

export interface FollowOptions {
  kind: OperationKind;
  /** The operation's id (a backup request's message id, `rst_…`, `exp_…`): events carry it as `operationId` (exports: `exportId`). */
  operationId: string;
  /** Backups (restores) of several tenants: the tenants queued, so the operation ends when each one did (else: each tenant seen to start), and percent is their average. */
  tenantIds?: readonly string[] | undefined;
  /** Where to start reading when the id tells no time (default: the stream's first event). */
  since?: Date | undefined;
  /** The client's last event id: nothing up to it is sent again. */
  lastEventId?: string | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The views of one operation's events, in stream order, until its final outcome. Percent:
 * backups and exports by tables done of tables total (a tenant's bytes are not known before its export
 * ends), averaged over the operation's tenants, 100 when completed; restores as the event says; disaster
 * backups carry bytes only (no percent, no ETA). ETA: from the operation's first event to this one,
 * scaled by what is left.
 */
export async function* followOperation(read: ReadEvents, o: FollowOptions): AsyncGenerator<ProgressView> {
  const resumeAfter = o.lastEventId !== undefined && /^\d+$/.test(o.lastEventId) ? Number(o.lastEventId) : 0;
  const minted = idTime(o.operationId);
  const since = minted ? new Date(minted.getTime() - CLOCK_SLACK_MS) : o.since;
  const fold = new OperationFold(o);
  for await (const { seq, message } of read({ types: PROGRESS_TYPES[o.kind], since, signal: o.signal })) {
    const view = fold.add(message, seq);
    if (!view) continue;
    if (seq > resumeAfter) yield view;
    if (view.final) return;
  }
}

/** How far a disaster restore is at the start of each of its steps (it tells steps, not bytes): the download and pg_restore take most of it. */
const DR_RESTORE_PERCENT: Record<string, number> = { probing: 1, listing: 3, fetching: 5, restoring: 50, checking: 90, "writing-config": 95 };

type Data = Record<string, unknown> & { operationId?: string; backupId?: string; tenantId?: string; exportId?: string };

/** The state of one operation as its events come: which events are its own, percent per tenant, the first event's time. */
class OperationFold {
  readonly #o: FollowOptions;
  /** Backup ids seen on this operation's events: a disaster backup's outcome names only its backup. */
  readonly #backups = new Set<string>();
  readonly #tenants = new Map<string, { percent: number; ended?: "completed" | "degraded" | "spooled" | "failed" }>();
  #percent = 0;
  #firstAt: number | undefined;

  constructor(o: FollowOptions) {
    this.#o = o;
    for (const t of o.tenantIds ?? []) this.#tenants.set(t, { percent: 0 });
  }

  #mine(data: Data): boolean {
    if (this.#o.kind === "export") return data.exportId === this.#o.operationId;
    if (data.operationId === this.#o.operationId) return true;
    return data.operationId === undefined && data.backupId !== undefined && this.#backups.has(data.backupId);
  }

  add(message: Event, seq: number): ProgressView | undefined {
    const data = message.data as Data;
    if (!this.#mine(data)) return undefined;
    if (data.backupId) this.#backups.add(data.backupId);
    const at = Date.parse(message.at);
    this.#firstAt ??= at;
    const view: ProgressView = { id: String(seq), type: message.type, ...(data.tenantId ? { tenantId: data.tenantId } : {}) };
    const m = message;
    switch (m.type) {
      case "backup.tenant.started.v1":
        this.#tenant(m.data.tenantId);
        break;
      case "backup.tenant.progress.v1":
      case "export.customer.progress.v1": {
        const share = m.data.tablesTotal > 0 ? (100 * m.data.tablesDone) / m.data.tablesTotal : 0;
        const t = this.#tenant(m.data.tenantId);
        t.percent = Math.max(t.percent, Math.min(share, 99)); // 100 only once stored
        Object.assign(view, { bytes: m.data.bytes, rows: m.data.rows, ...(m.data.table ? { table: m.data.table } : {}) });
        break;
      }
      case "backup.tenant.completed.v1":
        Object.assign(this.#tenant(m.data.tenantId), { percent: 100, ended: m.data.status });
        Object.assign(view, { bytes: m.data.size, rows: m.data.rows });
        break;
      case "backup.tenant.spooled.v1":
        // no cloud took it: sealed in the local spool, storage-svc uploads it when one answers
        Object.assign(this.#tenant(m.data.tenantId), { percent: 100, ended: "spooled" });
        Object.assign(view, { bytes: m.data.size, rows: m.data.rows, error: { code: "backup_spooled", message: m.data.error } });
        break;
      case "backup.tenant.failed.v1":
        // a failure with a retry to follow is news, not the end
        if (m.data.final) this.#tenant(m.data.tenantId).ended = "failed";
        view.error = { code: m.data.error.code, message: m.data.error.message };
        break;
      case "restore.progress.v1": {
        // several tenants: the average of each one's percent (over the tenants given, else those seen), 100 only once the restore ended
        const share = m.data.tenantId ? this.#tenant(m.data.tenantId) : undefined;
        if (share) share.percent = Math.max(share.percent, m.data.percentage);
        const all = [...this.#tenants.values()];
        const overall = all.length > 0 ? all.reduce((n, t) => n + t.percent, 0) / all.length : m.data.percentage;
        this.#percent = Math.max(this.#percent, Math.min(overall, 99));
        Object.assign(view, { bytes: m.data.bytesDone, rows: m.data.rowsDone, phase: m.data.phase });
        break;
      }
      case "restore.completed.v1":
        this.#percent = 100;
        return { ...view, percent: 100, final: true, outcome: m.data.status };
      case "restore.failed.v1":
      case "dr.backup.failed.v1":
        if (m.type === "dr.backup.failed.v1" && !m.data.final) return { ...view, error: { code: m.data.error.code, message: m.data.error.message } };
        return { ...view, percent: this.#percent, final: true, outcome: "failed", error: { code: m.data.error.code, message: m.data.error.message } };
      case "restore.rolled_back.v1":
        return { ...view, percent: 100, final: true, outcome: m.data.tenants.every((t) => t.ok) ? "completed" : "failed" };
      case "dr.restore.progress.v1":
        this.#percent = Math.max(this.#percent, DR_RESTORE_PERCENT[m.data.phase] ?? 0);
        view.phase = m.data.phase;
        break;
      case "dr.restore.completed.v1":
        return { ...view, percent: 100, final: true, outcome: m.data.ok ? "completed" : "mismatched" };
      case "dr.restore.failed.v1":
        return { ...view, percent: this.#percent, final: true, outcome: "failed", error: { code: m.data.error.code, message: m.data.error.message } };
      case "dr.backup.progress.v1":
        return { ...view, bytes: m.data.bytes, phase: m.data.phase };
      case "dr.backup.completed.v1":
        return { ...view, bytes: m.data.size, percent: 100, final: true, outcome: m.data.status };
      case "export.customer.ready.v1":
        this.#tenant(m.data.tenantId).percent = 100;
        return { ...view, bytes: m.data.size, percent: 100, final: true, outcome: "ready" };
      case "export.customer.failed.v1":
        return { ...view, percent: this.#percent, final: true, outcome: "failed", error: { code: m.data.error.code, message: m.data.error.message } };
      case "storage.verify.progress.v1":
        if (m.data.total > 0) this.#percent = Math.max(this.#percent, Math.min(99, (100 * m.data.done) / m.data.total));
        break;
      case "storage.verify.completed.v1": {
        // every backup checked: completed; some copy lost or failing its deep check: partial; all of them: failed
        const failed = m.data.failed.length;
        const outcome = failed === 0 ? "completed" : failed < m.data.backups ? "partial" : "failed";
        return { ...view, percent: 100, final: true, outcome };
      }
      default:
        break;
    }
    if (this.#o.kind === "backup" || this.#o.kind === "export") {
      const all = [...this.#tenants.values()];
      if (all.length > 0) this.#percent = Math.max(this.#percent, all.reduce((n, t) => n + t.percent, 0) / all.length);
    }
    view.percent = round(this.#percent);
    const elapsed = (at - this.#firstAt) / 1000;
    if (this.#percent > 0 && this.#percent < 100 && elapsed > 0) view.etaSeconds = Math.round((elapsed * (100 - this.#percent)) / this.#percent);
    const outcome = this.#o.kind === "backup" ? this.#backupOutcome() : undefined;
    return outcome ? { ...view, final: true, outcome } : view;
  }

  #tenant(tenantId: string) {
    let t = this.#tenants.get(tenantId);
    if (!t) this.#tenants.set(tenantId, (t = { percent: 0 }));
    return t;
  }

  /** Once every tenant of the backup ended: all failed, some failed (partial), any spooled, any degraded, else completed. */
  #backupOutcome(): ProgressView["outcome"] {
    const all = [...this.#tenants.values()];
    if (all.length === 0 || all.some((t) => !t.ended)) return undefined;
    const failed = all.filter((t) => t.ended === "failed").length;
    if (failed === all.length) return "failed";
    if (failed > 0) return "partial";
    if (all.some((t) => t.ended === "spooled")) return "spooled";
    return all.some((t) => t.ended === "degraded") ? "degraded" : "completed";
  }
}

const round = (n: number) => Math.round(n * 10) / 10;
