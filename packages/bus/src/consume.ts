import { AckPolicy, DeliverPolicy, JetStreamApiError, type Consumer, type ConsumerConfig, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { type Subscription } from "@nats-io/transport-node";
import { describeError, isRedeliverable } from "@hesaab/config";
import { MalformedMessageError, parseMessage, subjectOf, type Message } from "@hesaab/contracts";
import { tellObserver, type BusCore } from "./bus-core";
import { deadLetter, watchMaxDeliveries, type DeadLetterHook, type DeadLetterInput } from "./dead-letter";
import { BusError, oneLine } from "./errors";
import { durableFor, type StreamKind } from "./layout";
import { sleep } from "./sleep";

/** What a handler learns about the delivery it is working on. */
export interface HandlerContext {
  /** Delivery count, from 1. */
  attempt: number;
  /** True on the last delivery (`attempt === maxDeliver`): a failure now is final; record a failed result. */
  final: boolean;
  /** Aborted when the consumption is aborted (shutdown): stop early and throw. */
  signal: AbortSignal;
  /** Stream sequence of the message. */
  seq: number;
  /** Contracts subject (`cmd.backup.tenant.job.v1`), without any test prefix. */
  subject: string;
  /** The durable consumer that delivered it. */
  durable: string;
}

/**
 * Handles one message. Resolve: the message is acknowledged (done for good). Throw: it is retried
 * with backoff, unless the error is a HesaabError with `retryable: false`, which dead-letters it
 * at once. Must be idempotent: JetStream delivers at least once.
 */
export type MessageHandler = (message: Message, ctx: HandlerContext) => Promise<void>;

/** Delays before the 2nd, 3rd, … delivery of a failed message; the last one repeats. */
export const DEFAULT_BACKOFF_MS: readonly number[] = [1_000, 5_000, 30_000, 120_000, 600_000];
export const DEFAULT_MAX_DELIVER = 5;
export const DEFAULT_ACK_WAIT_MS = 30_000;

export interface ConsumeOptions {
  /**
   * Durable consumer name (`backup-svc`). With several filters, one consumer per filter is made
   * (nats-server 2.9 refuses multi-filter consumers), named `<durable>_<filter>` (see durableFor).
   * Replicas using the same durable share the work: each message goes to one of them.
   */
  durable: string;
  /** Contracts subject filter(s) (`cmd.backup.>`, or COMMAND_FILTERS.backupSvc). Filters of a work queue must not overlap. */
  filter: string | readonly string[];
  handler: MessageHandler;
  /** Most messages this process handles at once, across all filters. Default 1. */
  concurrency?: number;
  /** Deliveries before a message is dead-lettered. Default 5. */
  maxDeliver?: number;
  /** Delay before redelivery after the n-th failure is `backoffMs[n-1]` (the last repeats). */
  backoffMs?: readonly number[] | undefined;
  /** Time without an ack or a progress signal before JetStream redelivers. Long handlers are kept alive automatically. */
  ackWaitMs?: number;
  /** How often a running handler's message is marked in progress. Default ackWaitMs / 3. */
  workingIntervalMs?: number;
  /** Aborting it is `abort()`. */
  signal?: AbortSignal | undefined;
  /** Called after a message is dead-lettered (malformed, non-retryable or exhausted): raise an alert here. */
  onDeadLetter?: DeadLetterHook;
  /** How long one pull request waits for messages. Default 5 s. */
  fetchExpiresMs?: number;
}

export interface EventConsumeOptions extends ConsumeOptions {
  /** Where a new durable starts: only events published after it exists (default), or the whole retained stream. */
  deliverPolicy?: "new" | "all";
}

export interface ConsumerBacklog {
  durable: string;
  pending: number;
  unacked: number;
}

/** A running consumption. */
export interface Consumption {
  /** The durable consumer names in use (one per filter). */
  readonly durables: readonly string[];
  /** Messages being handled right now. */
  inFlight(): number;
  /** Each durable's backlog: messages waiting (JetStream's `num_pending`) and delivered but not yet acknowledged. */
  backlog(): Promise<ConsumerBacklog[]>;
  /** Stops taking messages and waits for in-flight handlers to finish. */
  stop(): Promise<void>;
  /** Stops taking messages, aborts in-flight handlers' signals (their messages are handed back at once), and waits. */
  abort(): Promise<void>;
  /** Settles when the consumption has stopped. */
  readonly done: Promise<void>;
}

const ms = (n: number) => n * 1_000_000;

type StartOptions = EventConsumeOptions & { kind: StreamKind };

export async function startConsuming(core: BusCore, opts: StartOptions): Promise<Consumption> {
  const settings = resolveSettings(opts);
  const stream = core.layout.stream(opts.kind);
  const filters = typeof opts.filter === "string" ? [opts.filter] : [...opts.filter];
  const durables = typeof opts.filter === "string" ? [opts.durable] : filters.map((f) => durableFor(opts.durable, f));
  for (const [i, filter] of filters.entries()) {
    await ensureConsumer(core, {
      stream,
      config: {
        durable_name: durables[i]!,
        filter_subject: core.layout.subject(filter),
        ack_policy: AckPolicy.Explicit,
        ack_wait: ms(settings.ackWaitMs),
        max_deliver: settings.maxDeliver,
        deliver_policy: opts.kind === "events" && opts.deliverPolicy !== "all" ? DeliverPolicy.New : DeliverPolicy.All,
      },
    });
  }
  const run = new ConsumptionRun(core, { ...opts, ...settings, stream, durables });
  if (opts.signal) {
    if (opts.signal.aborted) void run.abort();
    else opts.signal.addEventListener("abort", () => void run.abort(), { once: true });
  }
  return run;
}

function resolveSettings(opts: StartOptions) {
  const concurrency = opts.concurrency ?? 1;
  const maxDeliver = opts.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const backoffMs = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
  const ackWaitMs = opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const workingIntervalMs = opts.workingIntervalMs ?? Math.max(100, Math.floor(ackWaitMs / 3));
  const fetchExpiresMs = opts.fetchExpiresMs ?? 5_000;
  const problems: string[] = [];
  if (!Number.isInteger(concurrency) || concurrency < 1) problems.push("concurrency must be a positive integer");
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1) problems.push("maxDeliver must be a positive integer");
  if (!backoffMs.length || backoffMs.some((b) => !(b >= 0))) problems.push("backoffMs must list non-negative delays");
  if (!(ackWaitMs >= 1_000)) problems.push("ackWaitMs must be at least 1000");
  if (!(workingIntervalMs < ackWaitMs)) problems.push("workingIntervalMs must be shorter than ackWaitMs");
  if (!(fetchExpiresMs >= 1_000)) problems.push("fetchExpiresMs must be at least 1000");
  const filters = typeof opts.filter === "string" ? [opts.filter] : opts.filter;
  const head = opts.kind === "events" ? "evt." : "cmd.";
  if (!filters.length || filters.some((f) => !f.startsWith(head))) problems.push(`filters must start with "${head}"`);
  if (problems.length) {
    throw new BusError({ code: "bus_setup_failed", message: `invalid consumer options for ${opts.durable}: ${problems.join("; ")}` });
  }
  return { concurrency, maxDeliver, backoffMs, ackWaitMs, workingIntervalMs, fetchExpiresMs };
}

/** Creates the durable consumer, or brings an existing one's ack wait and max deliveries up to date. */
async function ensureConsumer(
  core: BusCore,
  { stream, config }: { stream: string; config: Partial<ConsumerConfig> & { durable_name: string; ack_wait: number; max_deliver: number } },
) {
  try {
    await core.jsm.consumers.add(stream, config);
  } catch (addErr) {
    try {
      const info = await core.jsm.consumers.info(stream, config.durable_name);
      if (info.config.filter_subject !== config.filter_subject) throw addErr;
      if (info.config.ack_wait !== config.ack_wait || info.config.max_deliver !== config.max_deliver) {
        await core.jsm.consumers.update(stream, config.durable_name, { ack_wait: config.ack_wait, max_deliver: config.max_deliver });
      }
    } catch (err) {
      throw new BusError({
        code: "bus_setup_failed",
        message: `cannot set up consumer ${config.durable_name} on ${stream}: ${describeError(err).message}`,
        hint:
          err instanceof JetStreamApiError && err.code === 10059
            ? "Create the streams first (bus.ensureStreams())"
            : "A work queue refuses overlapping filters: check the filter, or delete the old consumer",
        retryable: false,
        cause: err,
      });
    }
  }
}

/** A counting semaphore whose holders reserve several slots for one pull request. */
class Slots {
  #free: number;
  readonly #wakers = new Set<() => void>();

  constructor(size: number) {
    this.#free = size;
  }

  /** Takes between 1 and `max` free slots, waiting for one; 0 when `signal` aborts first. */
  async reserve(max: number, signal: AbortSignal): Promise<number> {
    while (!signal.aborted) {
      if (this.#free > 0) {
        const k = Math.min(this.#free, max);
        this.#free -= k;
        return k;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#wakers.delete(wake);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        this.#wakers.add(wake);
        signal.addEventListener("abort", wake, { once: true });
      });
    }
    return 0;
  }

  release(n: number): void {
    if (n <= 0) return;
    this.#free += n;
    for (const wake of [...this.#wakers]) wake();
  }
}

type RunOptions = StartOptions & ReturnType<typeof resolveSettings> & { stream: string; durables: string[] };

class ConsumptionRun implements Consumption {
  readonly durables: readonly string[];
  readonly done: Promise<void>;
  readonly #core: BusCore;
  readonly #opts: RunOptions;
  readonly #slots: Slots;
  readonly #stopping = new AbortController();
  readonly #aborting = new AbortController();
  readonly #handling = new Set<Promise<void>>();
  readonly #advisories: Subscription[];

  constructor(core: BusCore, opts: RunOptions) {
    this.#core = core;
    this.#opts = opts;
    this.durables = opts.durables;
    this.#slots = new Slots(opts.concurrency);
    this.#advisories = opts.durables.map((durable) =>
      watchMaxDeliveries(core, {
        kind: opts.kind,
        stream: opts.stream,
        durable,
        ...(opts.onDeadLetter ? { onDeadLetter: opts.onDeadLetter } : {}),
      }),
    );
    this.done = Promise.all(opts.durables.map((d) => this.#pullLoop(d))).then(async () => {
      while (this.#handling.size) await Promise.allSettled([...this.#handling]);
      for (const sub of this.#advisories) sub.unsubscribe();
    });
  }

  inFlight(): number {
    return this.#handling.size;
  }

  backlog(): Promise<ConsumerBacklog[]> {
    return Promise.all(
      this.durables.map(async (durable) => {
        const info = await this.#core.jsm.consumers.info(this.#opts.stream, durable);
        return { durable, pending: info.num_pending, unacked: info.num_ack_pending };
      }),
    );
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.done;
  }

  async abort(): Promise<void> {
    this.#aborting.abort();
    this.#stopping.abort();
    await this.done;
  }

  /**
   * Slots one pull of a durable asks for. A pull holds what it reserved until it is full or expires
   * (fetchExpiresMs), so a durable whose last pull found nothing asks for one message: idle filters
   * (exports, keys) no longer sit on slots the busy one (the night's jobs) needs. A durable that
   * found work asks for every free slot but one per other durable, so none is shut out.
   */
  #want(idle: boolean): number {
    return idle ? 1 : Math.max(1, this.#opts.concurrency - (this.#opts.durables.length - 1));
  }

  async #pullLoop(durable: string): Promise<void> {
    const core = this.#core;
    const stopping = this.#stopping.signal;
    let consumer: Consumer | undefined;
    let idle = true;
    while (!stopping.aborted) {
      const reserved = await this.#slots.reserve(this.#want(idle), stopping);
      if (reserved === 0) break;
      let received = 0;
      try {
        consumer ??= await core.js.consumers.get(this.#opts.stream, durable);
        const batch: ConsumerMessages = await consumer.fetch({ max_messages: reserved, expires: this.#opts.fetchExpiresMs });
        const end = () => batch.stop();
        stopping.addEventListener("abort", end, { once: true });
        // A pull that outlives its expiry (a lost reconnect) is abandoned, not waited on forever.
        const guard = setTimeout(end, this.#opts.fetchExpiresMs + 10_000);
        try {
          for await (const m of batch) {
            received++;
            this.#launch(m, durable);
          }
        } finally {
          clearTimeout(guard);
          stopping.removeEventListener("abort", end);
        }
      } catch (err) {
        consumer = undefined;
        if (core.nc.isClosed()) break; // the bus was closed under us: nothing more will come
        const error = describeError(err).message;
        // A pull whose idle heartbeats were late (a busy machine) just ends; pull again at once.
        if (!stopping.aborted && !error.includes("heartbeats missed")) {
          core.log.warn("pull failed; retrying", { stream: this.#opts.stream, durable, error });
          await sleep(1_000, stopping);
        }
      } finally {
        this.#slots.release(reserved - received);
        idle = received === 0;
      }
    }
  }

  #launch(m: JsMsg, durable: string): void {
    const p = this.#handle(m, durable)
      .catch((err: unknown) =>
        this.#core.log.error("message handling failed unexpectedly", { durable, seq: m.info.streamSequence, error: describeError(err).message }),
      )
      .finally(() => {
        this.#handling.delete(p);
        this.#slots.release(1);
      });
    this.#handling.add(p);
  }

  async #handle(m: JsMsg, durable: string): Promise<void> {
    const core = this.#core;
    const { stream, maxDeliver, handler } = this.#opts;
    const seq = m.info.streamSequence;
    const attempt = m.info.deliveryCount;
    const subject = core.layout.unprefixed(m.subject);
    const base = { kind: this.#opts.kind, stream, durable, seq, wireSubject: m.subject, data: m.data, deliveries: attempt };

    // Marks the message in progress until a verdict is sent, dead-lettering included.
    const timer = setInterval(() => m.working(), this.#opts.workingIntervalMs);
    const settle = () => clearInterval(timer);
    try {
      let message: Message;
      try {
        message = parseMessage(m.data);
        if (subjectOf(message.type) !== subject) {
          throw new MalformedMessageError([`(subject): ${subject} does not carry ${message.type}`], message.type);
        }
      } catch (err) {
        const issues = err instanceof MalformedMessageError ? err.issues : [describeError(err).message];
        await this.#deadLetter(m, { input: { ...base, reason: "malformed", issues }, settle });
        return;
      }

      tellObserver(core, () => core.observer?.delivered?.({ durable, attempt, type: message.type }));
      try {
        await handler(message, { attempt, final: attempt >= maxDeliver, signal: this.#aborting.signal, seq, subject, durable });
        settle();
        m.ack();
        core.lastErrors.delete(stream, seq);
      } catch (err) {
        const error = describeError(err);
        if (this.#aborting.signal.aborted) {
          settle();
          m.nak(); // shutting down: hand it back now, another worker takes it
          return;
        }
        const known = { code: error.code, message: oneLine(error.message) };
        // Redelivered unless known to be permanent, wider than `error.retryable` (see isRedeliverable).
        if (!isRedeliverable(err)) {
          await this.#deadLetter(m, { input: { ...base, reason: "non_retryable", error: known }, settle });
        } else if (attempt >= maxDeliver) {
          await this.#deadLetter(m, { input: { ...base, reason: "exhausted", error: known }, settle });
        } else {
          const delay = this.#backoff(attempt);
          core.lastErrors.set(stream, seq, known);
          core.log.warn("handler failed; will retry", {
            durable,
            seq,
            type: message.type,
            attempt,
            delayMs: delay,
            errorCode: error.code,
            error: error.message,
          });
          settle();
          m.nak(delay);
        }
      }
    } finally {
      settle();
    }
  }

  /**
   * Dead-letters, then TERMs (no reason text: nats-server 2.9 ignores a TERM that carries one).
   * If the DLQ cannot be written, NAKs: the message comes back (or, past max_deliver, reaches the
   * DLQ through the advisory).
   */
  async #deadLetter(m: JsMsg, { input, settle }: { input: DeadLetterInput; settle: () => void }): Promise<void> {
    let dl;
    try {
      dl = await deadLetter(this.#core, input);
    } catch (err) {
      this.#core.log.error("cannot dead-letter; the message will come back", { durable: input.durable, seq: input.seq, error: describeError(err).message });
      settle();
      m.nak(this.#backoff(input.deliveries));
      return;
    }
    settle();
    m.term();
    tellObserver(this.#core, () => this.#core.observer?.deadLettered?.({ durable: input.durable, reason: input.reason }));
    try {
      await this.#opts.onDeadLetter?.(dl);
    } catch (err) {
      this.#core.log.error("onDeadLetter hook failed", { durable: input.durable, seq: input.seq, error: describeError(err).message });
    }
  }

  #backoff(attempt: number): number {
    const list = this.#opts.backoffMs;
    return list[Math.min(attempt - 1, list.length - 1)]!;
  }
}
