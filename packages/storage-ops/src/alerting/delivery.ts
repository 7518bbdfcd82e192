import { createHmac } from "node:crypto";
import nodemailer, { type Transporter } from "nodemailer";
import { describeError } from "@hesaab/config";
import type { Log } from "@hesaab/contracts";
import {
  alerts,
  claimDueAlertDeliveries,
  enqueueAlertDeliveries,
  settleAlertDelivery,
  type AlertDelivery,
  type Catalog,
  type NewAlertDelivery,
} from "@hesaab/db";
import { inArray } from "drizzle-orm";
import type { AlertChannels } from "./channels";

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body>` under ALERT_WEBHOOK_SECRET. */
export const SIGNATURE_HEADER = "x-hesaab-signature";

/** `sha256=<hex>` of the body: what a receiver recomputes with the shared secret and compares (in constant time). */
export function signWebhookBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface AlertDelivererOptions {
  catalog: Catalog;
  channels: AlertChannels;
  /** Attempts per delivery before it is dead (kept, with its payload). */
  maxAttempts: number;
  /** The first retry's delay; each next one doubles. */
  backoffMs: number;
  log?: Log | undefined;
  /** Longest wait for the webhook's answer. Default 10 s. */
  timeoutMs?: number;
}

export interface DeliveryReport {
  delivered: number;
  retrying: number;
  dead: number;
}

type Kind = "raised" | "resolved";

/**
 * Sends alert notifications to the configured channels through the catalog's outbox
 * (`alert_deliveries`): `enqueue` queues one row per alert, kind and channel (queued twice, sent
 * once); `deliverDue` sends what is due, retrying a failure later with exponential backoff and
 * dead-lettering it after its last attempt (the row stays, status `dead`, payload kept). Nothing it
 * does throws at the caller for a channel's fault: the service keeps running.
 */
export class AlertDeliverer {
  readonly #o: AlertDelivererOptions;
  #mailer: Transporter | undefined;

  constructor(o: AlertDelivererOptions) {
    this.#o = o;
  }

  get configured(): boolean {
    return Boolean(this.#o.channels.webhook || this.#o.channels.email);
  }

  /** Queues the notifications of these alerts ("raised" or "resolved") to every channel. */
  async enqueue(alertIds: readonly string[], kind: Kind, now: Date = new Date()): Promise<number> {
    if (!this.configured || alertIds.length === 0) return 0;
    const rows = await this.#o.catalog.db
      .select()
      .from(alerts)
      .where(inArray(alerts.id, [...alertIds]));
    const queued: NewAlertDelivery[] = [];
    for (const a of rows) {
      const payload = {
        event: `alert.${kind}`,
        alert: {
          id: a.id,
          severity: a.severity,
          code: a.code,
          message: a.message,
          context: a.context,
          occurrences: a.occurrences,
          raisedAt: a.raisedAt.toISOString(),
          resolvedAt: a.resolvedAt?.toISOString() ?? null,
        },
      };
      for (const channel of this.#channelNames()) queued.push({ key: `${kind}:${a.id}:${channel}`, alertId: a.id, channel, kind, payload });
    }
    return enqueueAlertDeliveries(this.#o.catalog.db, queued, now);
  }

  /** Queues the daily summary (email only; once per `day`). */
  async enqueueSummary(day: string, summary: { subject: string; text: string }, now: Date = new Date()): Promise<number> {
    if (!this.#o.channels.email) return 0;
    return enqueueAlertDeliveries(
      this.#o.catalog.db,
      [{ key: `summary:${day}:email`, alertId: null, channel: "email", kind: "summary", payload: { event: "summary", day, ...summary } }],
      now,
    );
  }

  /** Sends every delivery due at `now` (a batch at a time), recording each attempt. */
  async deliverDue(now: Date = new Date()): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: 0, retrying: 0, dead: 0 };
    if (!this.configured) return report;
    const timeoutMs = this.#o.timeoutMs ?? 10_000;
    // the lease outlasts one attempt, so a row being sent is not claimed again by another replica
    const due = await claimDueAlertDeliveries(this.#o.catalog.db, { now, leaseMs: 3 * timeoutMs });
    for (const d of due) {
      let error: string | undefined;
      try {
        await this.#send(d, timeoutMs);
      } catch (err) {
        error = describeError(err).message;
      }
      const status = await settleAlertDelivery(this.#o.catalog.db, {
        id: d.id,
        ok: error === undefined,
        now,
        maxAttempts: this.#o.maxAttempts,
        backoffMs: this.#o.backoffMs,
        ...(error === undefined ? {} : { error }),
      });
      if (status === "delivered") report.delivered++;
      else if (status === "dead") {
        report.dead++;
        this.#o.log?.error("alert delivery dead-lettered: kept in alert_deliveries", { delivery: d.key, channel: d.channel, attempts: d.attempts + 1, error });
      } else {
        report.retrying++;
        this.#o.log?.warn("alert delivery failed: retried later", { delivery: d.key, channel: d.channel, attempt: d.attempts + 1, error });
      }
    }
    return report;
  }

  close(): void {
    this.#mailer?.close();
  }

  #channelNames(): ("webhook" | "email")[] {
    return [...(this.#o.channels.webhook ? (["webhook"] as const) : []), ...(this.#o.channels.email ? (["email"] as const) : [])];
  }

  async #send(d: AlertDelivery, timeoutMs: number): Promise<void> {
    if (d.channel === "webhook") return this.#sendWebhook(d, timeoutMs);
    if (d.channel === "email") return this.#sendEmail(d);
    throw new Error(`no channel ${d.channel} is configured now`);
  }

  async #sendWebhook(d: AlertDelivery, timeoutMs: number): Promise<void> {
    const webhook = this.#o.channels.webhook;
    if (!webhook) throw new Error("the webhook is not configured now");
    const body = JSON.stringify(d.payload);
    let res: Response;
    try {
      res = await fetch(webhook.url, {
        method: "POST",
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signWebhookBody(body, webhook.secret.reveal()), "x-hesaab-delivery": d.key },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // fetch's message names no URL, but its cause may: say only what kind of failure it was (the URL may hold a token)
      const cause = (err as { cause?: { code?: unknown } }).cause?.code;
      throw new Error(`the webhook could not be reached${typeof cause === "string" ? ` (${cause})` : ""}`, { cause: err });
    }
    await res.body?.cancel();
    if (!res.ok) throw new Error(`the webhook answered ${res.status}`);
  }

  async #sendEmail(d: AlertDelivery): Promise<void> {
    const email = this.#o.channels.email;
    if (!email) throw new Error("alert email is not configured now");
    this.#mailer ??= nodemailer.createTransport(email.smtpUrl.reveal());
    const { subject, text } = emailOf(d);
    try {
      await this.#mailer.sendMail({ from: email.from, to: email.to, subject, text });
    } catch (err) {
      // nodemailer's errors carry the server's answer, never the password; the code says what failed
      const e = err as { code?: unknown; responseCode?: unknown };
      throw new Error(`the SMTP server refused or was unreachable (${String(e.code ?? "error")}${e.responseCode ? ` ${String(e.responseCode)}` : ""})`, {
        cause: err,
      });
    }
  }
}

/** Subject and text of a delivery's email: the summary's own, or one line per alert fact. */
function emailOf(d: AlertDelivery): { subject: string; text: string } {
  const p = d.payload as { subject?: string; text?: string; event?: string; alert?: Record<string, unknown> };
  if (d.kind === "summary") return { subject: p.subject ?? "HesaabPlus Backup: daily summary", text: p.text ?? "" };
  const a = p.alert ?? {};
  const resolved = d.kind === "resolved";
  const subject = `[HesaabPlus Backup] ${resolved ? "resolved" : String(a.severity)}: ${String(a.code)}`;
  const text = [
    `${resolved ? "Resolved" : "Raised"}: ${String(a.message)}`,
    `code: ${String(a.code)}`,
    `severity: ${String(a.severity)}`,
    `occurrences: ${String(a.occurrences)}`,
    `raised at: ${String(a.raisedAt)}`,
    ...(resolved ? [`resolved at: ${String(a.resolvedAt)}`] : []),
    `alert: ${String(a.id)}`,
    `context: ${JSON.stringify(a.context ?? {})}`,
  ].join("\n");
  return { subject, text };
}
