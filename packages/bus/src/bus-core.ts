import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { describeError } from "@hesaab/config";
import type { Message } from "@hesaab/contracts";
import type { DeadLetterReason } from "./dead-letter";
import { BusError } from "./errors";
import { type BusLayout } from "./layout";
import { type BusLogger } from "./log";

/** Internal view shared with the consumer and dead-letter code. */
export interface BusCore {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  layout: BusLayout;
  log: BusLogger;
  /** Last handler error per `<stream>/<seq>`, so a dead letter from the advisory can say why. */
  lastErrors: LastErrors;
  publishTimeoutMs: number;
  /** Told what passes through the bus (metrics); never throws back into it. */
  observer: BusObserver | undefined;
}

/**
 * Watches what the bus does, for metrics: each hook is called synchronously after the fact and must
 * not throw (a throwing hook is caught and logged, the bus goes on).
 */
export interface BusObserver {
  /** A message stored by JetStream (not a duplicate dropped by its msgId). */
  published?(message: Message): void;
  /** A message handed to a handler; `attempt` > 1 is a redelivery. */
  delivered?(delivery: { durable: string; attempt: number; type: string }): void;
  /** A message moved to the dead-letter stream. */
  deadLettered?(deadLetter: { durable: string; reason: DeadLetterReason }): void;
}

/** Calls an observer hook, keeping its failure away from the bus. */
export function tellObserver(core: Pick<BusCore, "log">, hook: (() => void) | undefined): void {
  try {
    hook?.();
  } catch (err) {
    core.log.warn("bus observer failed", { error: err instanceof Error ? err.message : String(err) });
  }
}

/** A small bounded map: the oldest entries go first. */
export class LastErrors {
  readonly #map = new Map<string, { code: string; message: string }>();
  constructor(private readonly limit = 10_000) {}
  set(stream: string, seq: number, error: { code: string; message: string }): void {
    const key = `${stream}/${seq}`;
    this.#map.delete(key);
    this.#map.set(key, error);
    if (this.#map.size > this.limit) this.#map.delete(this.#map.keys().next().value!);
  }
  get(stream: string, seq: number): { code: string; message: string } | undefined {
    return this.#map.get(`${stream}/${seq}`);
  }
  delete(stream: string, seq: number): void {
    this.#map.delete(`${stream}/${seq}`);
  }
}

const PUBLISH_DELAYS_MS = [250, 500, 1_000, 2_000, 4_000];

/** Publishes with a msgId, retrying when the acknowledgement does not come (the msgId makes a retry a no-op). */
export async function publishWithRetry(
  core: BusCore,
  p: { subject: string; payload: Uint8Array; msgId: string; headers?: Record<string, string> | MsgHdrs | undefined },
): Promise<{ seq: number; duplicate: boolean }> {
  let last: unknown;
  for (let attempt = 0; attempt <= PUBLISH_DELAYS_MS.length; attempt++) {
    try {
      const ack = await core.js.publish(p.subject, p.payload, {
        msgID: p.msgId,
        timeout: core.publishTimeoutMs,
        ...(p.headers ? { headers: toHeaders(p.headers) } : {}),
      });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      last = err;
      if (err instanceof JetStreamApiError || core.nc.isClosed()) break; // the server said no: retrying will not help
      await new Promise((r) => setTimeout(r, PUBLISH_DELAYS_MS[attempt]));
    }
  }
  throw new BusError({
    code: "bus_publish_failed",
    message: `cannot publish to ${p.subject}: ${describeError(last).message}`,
    hint: "Check that nats-server is up and the streams exist (ensureStreams)",
    retryable: true,
    cause: last,
  });
}

function toHeaders(h: Record<string, string> | MsgHdrs): MsgHdrs {
  if (!isPlainRecord(h)) return h;
  const out = natsHeaders();
  for (const [k, v] of Object.entries(h)) out.set(k, v);
  return out;
}

function isPlainRecord(h: Record<string, string> | MsgHdrs): h is Record<string, string> {
  return typeof (h as MsgHdrs).set !== "function";
}
