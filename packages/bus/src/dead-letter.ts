import { JetStreamApiError } from "@nats-io/jetstream";
import { headers, type MsgHdrs, type Subscription } from "@nats-io/transport-node";
import { describeError } from "@hesaab/config";
import { deadLetterSubjectOf, MalformedMessageError, parseMessage, type MessageType } from "@hesaab/contracts";
import { publishWithRetry, tellObserver, type BusCore } from "./bus-core";
import { oneLine } from "./errors";
import { type StreamKind } from "./layout";

/** Why a message left its stream for the dead-letter stream. */
export type DeadLetterReason = "malformed" | "exhausted" | "non_retryable";

/** Headers of a dead letter; its body is the original message's bytes, untouched. */
export const DEAD_LETTER_HEADERS = {
  reason: "Hesaab-Reason",
  originalSubject: "Hesaab-Original-Subject",
  originalStream: "Hesaab-Original-Stream",
  originalSeq: "Hesaab-Original-Seq",
  consumer: "Hesaab-Consumer",
  deliveries: "Hesaab-Deliveries",
  messageId: "Hesaab-Message-Id",
  errorCode: "Hesaab-Error-Code",
  error: "Hesaab-Error",
  issues: "Hesaab-Issues",
} as const;

/** The contracts subject malformed messages are dead-lettered to. */
export const MALFORMED_SUBJECT = "dlq.malformed";

/** What a service learns about a dead letter (to raise `alert.raised.v1`, for example). */
export interface DeadLetter {
  reason: DeadLetterReason;
  /** Stream and durable consumer the message was taken from. */
  stream: string;
  durable: string;
  /** Its sequence in that stream. */
  seq: number;
  /** Its contracts subject (`cmd.backup.tenant.job.v1`), without any test prefix. */
  subject: string;
  /** Where it went (`dlq.backup.tenant.job.v1`, `dlq.malformed`), without any test prefix. */
  deadLetterSubject: string;
  /** Sequence of the dead letter in the DLQ stream. */
  deadLetterSeq: number;
  type?: string;
  messageId?: string;
  deliveries: number;
  /** The last handler error, when known. */
  error?: { code: string; message: string };
  /** Validation issues of a malformed message. */
  issues?: string[];
}

export type DeadLetterHook = (dl: DeadLetter) => void | Promise<void>;

export interface DeadLetterInput {
  reason: DeadLetterReason;
  kind: StreamKind;
  stream: string;
  durable: string;
  seq: number;
  /** The subject as seen on the wire (prefixed in tests). */
  wireSubject: string;
  data: Uint8Array;
  deliveries: number;
  error?: { code: string; message: string };
  issues?: string[];
}

/**
 * Republishes a message to the DLQ stream (body untouched, reasons in headers), then removes it from
 * the work queue. Commands only are removed: an event belongs to every consumer of the event stream.
 * Deduplicated by stream, consumer and sequence, so two replicas dead-lettering the same message store one letter.
 * Throws when the dead letter could not be stored; the message is then left where it was.
 */
export async function deadLetter(core: BusCore, input: DeadLetterInput): Promise<DeadLetter> {
  const { layout } = core;
  const subject = layout.unprefixed(input.wireSubject);
  const known = identify(input.data);
  const deadLetterSubject = input.reason === "malformed" || !known ? MALFORMED_SUBJECT : deadLetterSubjectOf(known.type as MessageType);
  const issues = input.issues ?? (known ? undefined : malformedIssues(input.data));

  const h: MsgHdrs = headers();
  h.set(DEAD_LETTER_HEADERS.reason, input.reason);
  h.set(DEAD_LETTER_HEADERS.originalSubject, subject);
  h.set(DEAD_LETTER_HEADERS.originalStream, input.stream);
  h.set(DEAD_LETTER_HEADERS.originalSeq, String(input.seq));
  h.set(DEAD_LETTER_HEADERS.consumer, input.durable);
  h.set(DEAD_LETTER_HEADERS.deliveries, String(input.deliveries));
  if (known) h.set(DEAD_LETTER_HEADERS.messageId, known.id);
  if (input.error) {
    h.set(DEAD_LETTER_HEADERS.errorCode, oneLine(input.error.code, 100));
    h.set(DEAD_LETTER_HEADERS.error, oneLine(input.error.message, 1000));
  }
  if (issues?.length) h.set(DEAD_LETTER_HEADERS.issues, oneLine(issues.join("; "), 2000));

  const { seq: deadLetterSeq } = await publishWithRetry(core, {
    subject: layout.subject(deadLetterSubject),
    payload: input.data,
    msgId: `dlq:${input.stream}:${input.durable}:${input.seq}`,
    headers: h,
  });
  if (input.kind === "commands") await removeFromStream(core, input.stream, input.seq);
  core.lastErrors.delete(input.stream, input.seq);
  const where = { reason: input.reason, stream: input.stream, durable: input.durable, seq: input.seq, subject, deadLetterSubject };
  core.log.warn("message dead-lettered", { ...where, deliveries: input.deliveries, ...(input.error ? { errorCode: input.error.code } : {}) });
  return {
    ...where,
    deadLetterSeq,
    ...(known ? { type: known.type, messageId: known.id } : {}),
    deliveries: input.deliveries,
    ...(input.error ? { error: input.error } : {}),
    ...(issues ? { issues } : {}),
  };
}

async function removeFromStream(core: BusCore, stream: string, seq: number): Promise<void> {
  try {
    await core.jsm.streams.deleteMessage(stream, seq);
  } catch (err) {
    // 10057: already gone (a TERM on a work queue removes it too).
    if (err instanceof JetStreamApiError && err.code === 10057) return;
    core.log.warn("cannot remove a dead-lettered message from its stream", { stream, seq, error: describeError(err).message });
  }
}

function identify(data: Uint8Array): { type: string; id: string } | undefined {
  try {
    const m = parseMessage(data);
    return { type: m.type, id: m.id };
  } catch {
    return undefined;
  }
}

function malformedIssues(data: Uint8Array): string[] {
  try {
    parseMessage(data);
    return [];
  } catch (err) {
    return err instanceof MalformedMessageError ? err.issues : [describeError(err).message];
  }
}

/** The subject of the advisory nats-server sends when a message exceeds a consumer's max_deliver. */
export function maxDeliveriesAdvisorySubject(stream: string, durable: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${durable}`;
}

interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

/**
 * Dead-letters messages that ran out of deliveries without a handler verdict (a worker killed or
 * stuck on the last attempt). nats-server 2.9 leaves such a message in the work queue forever and
 * only says so in an advisory, a plain NATS message: every replica subscribes in one queue group so
 * exactly one of them handles each advisory. An advisory sent while no replica listens is lost
 * (see the README).
 */
export function watchMaxDeliveries(core: BusCore, opts: { kind: StreamKind; stream: string; durable: string; onDeadLetter?: DeadLetterHook }): Subscription {
  const subject = maxDeliveriesAdvisorySubject(opts.stream, opts.durable);
  return core.nc.subscribe(subject, {
    queue: `hesaab_dlq_${opts.stream}_${opts.durable}`,
    callback: (err, msg) => {
      if (err) {
        core.log.warn("max-deliveries advisory subscription failed", { subject, error: err.message });
        return;
      }
      void (async () => {
        const advisory = msg.json<MaxDeliveriesAdvisory>();
        const stored = await core.jsm.streams.getMessage(opts.stream, { seq: advisory.stream_seq });
        if (!stored) return; // already dead-lettered or removed
        const dl = await deadLetter(core, {
          reason: "exhausted",
          kind: opts.kind,
          stream: opts.stream,
          durable: opts.durable,
          seq: advisory.stream_seq,
          wireSubject: stored.subject,
          data: stored.data,
          deliveries: advisory.deliveries,
          ...withError(core.lastErrors.get(opts.stream, advisory.stream_seq)),
        });
        tellObserver(core, () => core.observer?.deadLettered?.({ durable: opts.durable, reason: "exhausted" }));
        await opts.onDeadLetter?.(dl);
      })().catch((e: unknown) => core.log.error("cannot dead-letter an exhausted message", { subject, error: describeError(e).message }));
    },
  });
}

function withError(error: { code: string; message: string } | undefined): { error?: { code: string; message: string } } {
  return error ? { error } : {};
}
