import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { parseMessage, subjectOf, type Event } from "@hesaab/contracts";
import { BusError } from "./errors";
import type { BusLayout } from "./layout";
import type { BusLogger } from "./log";

/** An event as the event stream holds it: its stream sequence is its place, so a reader can resume right after it. */
export interface StoredEvent {
  seq: number;
  message: Event;
}

export interface ReadEventsOptions {
  /** The event types to read (`backup.tenant.progress.v1`, …): the consumer's filter subjects. */
  types: readonly Event["type"][];
  /** Resume after this stream sequence (a client's last event id): the next event read is the first one stored after it. */
  afterSeq?: number | undefined;
  /** Without `afterSeq`: start at the first event stored at or after this time (e.g. the operation's creation); else at the stream's first. */
  since?: Date | undefined;
  /** Stops reading (the subscriber went away): the generator returns. */
  signal?: AbortSignal | undefined;
}

/**
 * Reads events of `types` from the event stream, in stream order, from `afterSeq` (or `since`) on, for
 * as long as the caller iterates and `signal` holds: the live progress relay's source. An ordered
 * consumer (ephemeral, no acks; the library recreates it at the last sequence it saw after a gap or
 * a reconnect) reads, so nothing is left on the server once the reader goes. A message that does not
 * parse against the contracts is skipped: it never reached the stream through a bus.
 */
export async function* readEvents(core: { js: JetStreamClient; layout: BusLayout; log: BusLogger }, opts: ReadEventsOptions): AsyncGenerator<StoredEvent> {
  if (opts.types.length === 0) return;
  const { js, layout } = core;
  const start =
    opts.afterSeq !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.afterSeq + 1 }
      : opts.since
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.since.toISOString() }
        : { deliver_policy: DeliverPolicy.All };
  let consumer;
  try {
    consumer = await js.consumers.get(layout.stream("events"), {
      filter_subjects: coveringFilter(opts.types.map((t) => layout.subject(subjectOf(t)))),
      ...start,
    });
  } catch (err) {
    throw new BusError({
      code: "bus_unreachable",
      message: `cannot read events from ${layout.stream("events")}: ${err instanceof Error ? err.message : String(err)}`,
      hint: "Check that nats-server is up and the streams exist (ensureStreams)",
      retryable: true,
      cause: err,
    });
  }
  if (opts.signal?.aborted) return;
  const wanted = new Set<string>(opts.types);
  const messages = await consumer.consume();
  const stop = () => void messages.stop();
  opts.signal?.addEventListener("abort", stop, { once: true });
  try {
    for await (const m of messages) {
      let message: Event;
      try {
        message = parseMessage(m.json()) as Event;
      } catch {
        core.log.warn("an event that does not parse was skipped", { stream: layout.stream("events"), seq: m.seq });
        continue;
      }
      if (wanted.has(message.type)) yield { seq: m.seq, message };
      if (opts.signal?.aborted) break;
    }
  } finally {
    opts.signal?.removeEventListener("abort", stop);
    stop();
  }
}

/**
 * One filter subject that covers every subject given: the subject itself, or their common tokens then
 * `>` (`evt.backup.tenant.progress.v1` + `evt.backup.tenant.completed.v1` → `evt.backup.tenant.>`).
 * One, not a list: several filter subjects on a consumer need nats-server 2.10; the reader drops the
 * other types the wildcard lets through.
 */
export function coveringFilter(subjects: readonly string[]): string {
  const split = [...new Set(subjects)].map((s) => s.split("."));
  if (split.length === 1) return split[0]!.join(".");
  const common: string[] = [];
  for (let i = 0; split.every((s) => i < s.length - 1 && s[i] === split[0]![i]); i++) common.push(split[0]![i]!);
  return [...common, ">"].join(".");
}
