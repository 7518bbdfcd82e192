import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { describeError, redactUrl } from "@hesaab/config";
import { makeMessage, subjectOf, type DataInput, type MessageOf, type MessageType } from "@hesaab/contracts";
import { startConsuming, type ConsumeOptions, type Consumption, type EventConsumeOptions } from "./consume";
import { publishWithRetry, tellObserver, LastErrors, type BusCore, type BusObserver } from "./bus-core";
import { watchMaxDeliveries, type DeadLetterHook } from "./dead-letter";
import { BusError } from "./errors";
import { readEvents, type ReadEventsOptions, type StoredEvent } from "./event-reader";
import { BusLayout, type StreamKind } from "./layout";
import { consoleLogger, type BusLogger } from "./log";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** How long JetStream remembers a `Nats-Msg-Id` on the command stream: a job re-sent within it is dropped. */
export const COMMAND_DEDUP_WINDOW_MS = 2 * HOUR_MS;
export const EVENT_MAX_AGE_MS = 7 * DAY_MS;
export const DEAD_LETTER_MAX_AGE_MS = 30 * DAY_MS;

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

export interface ConnectBusOptions {
  /** `nats://host:port` (credentials in the URL are never logged). */
  url: string;
  /** The connection name the server shows (`backup-svc`, `cli`). */
  name: string;
  /** Tests only: prepended to stream names (`<prefix>_HESAAB_CMD`) and subjects (`<prefix>.cmd.…`). */
  prefix?: string | undefined;
  log?: BusLogger;
  /** Told of every message published, delivered and dead-lettered (the service's metrics). */
  observer?: BusObserver;
  /** Keep trying the first connect instead of failing when the server is not up yet (services: true; the CLI: false). */
  waitForServer?: boolean;
  /** Milliseconds to wait for a publish acknowledgement, per attempt. */
  publishTimeoutMs?: number;
}

export interface PublishOptions {
  /**
   * `Nats-Msg-Id`: JetStream drops a second message with the same id within the stream's duplicate
   * window (2 h for commands). Use it to make a job unique per tenant and period
   * (`backup:<tenant>:<period>`). Defaults to the message's own id, so a retried publish is never doubled.
   */
  msgId?: string;
  /** Extra headers (tracing, the publishing actor). */
  headers?: Record<string, string>;
}

export interface PublishResult<T extends MessageType = MessageType> {
  /** Stream sequence of the stored message (of the first copy when `duplicate`). */
  seq: number;
  /** True when JetStream already had a message with this msgId and dropped this one. */
  duplicate: boolean;
  message: MessageOf<T>;
}

/** The one handle a service holds on NATS JetStream. */
export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly layout: BusLayout;
  readonly log: BusLogger;
  /** Creates or updates HESAAB_CMD, HESAAB_EVT and HESAAB_DLQ (file storage). Idempotent; safe from many replicas. */
  ensureStreams(): Promise<void>;
  /**
   * Validates `data` against the contracts (a malformed message never leaves the process: throws
   * MalformedMessageError), then publishes it through JetStream on `subjectOf(type)`. Retries a lost
   * acknowledgement with the same msgId, so a retry is never stored twice.
   */
  publish<T extends MessageType>(type: T, data: DataInput<T>, opts?: PublishOptions): Promise<PublishResult<T>>;
  /** Work-queue consumer on the command stream (see ConsumeOptions). */
  consume(opts: ConsumeOptions): Promise<Consumption>;
  /** Durable consumer on the event stream: every durable sees every event once it exists. */
  consumeEvents(opts: EventConsumeOptions): Promise<Consumption>;
  /** Reads events of some types in stream order from a sequence or a time on, without a durable (see `readEvents`): live progress. */
  readEvents(opts: ReadEventsOptions): AsyncGenerator<StoredEvent>;
  /**
   * Dead-letters the messages of a durable that exceed max_deliver without a handler verdict (from
   * the max-deliveries advisory). `consume` runs this already for its own durables; call it for a
   * consumer this process does not consume from.
   */
  watchDeadLetters(opts: { kind?: "commands" | "events"; durable: string; onDeadLetter?: DeadLetterHook }): { stop(): void };
  /** Tests only: deletes this bus's prefixed streams. Refuses without a prefix. */
  deleteStreams(): Promise<void>;
  /** Stops every consumption (in-flight handlers finish), flushes, and closes the connection. */
  drain(): Promise<void>;
  /** Aborts every consumption (handlers get an aborted signal) and closes the connection. */
  close(): Promise<void>;
}

/** Connects to NATS. Reconnects forever: a NATS restart is survived, publishes wait for the server to return. */
export async function connectBus(opts: ConnectBusOptions): Promise<Bus> {
  const log = opts.log ?? consoleLogger;
  const layout = new BusLayout(opts.prefix);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: opts.url,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      waitOnFirstConnect: opts.waitForServer ?? false,
      // Without it every request (each JetStream publish) makes two errors up front, stack traces
      // and all, in case it fails: a night's thousands of jobs and events paid that in CPU. Our
      // failures are BusErrors that name the subject and say what to do.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new BusError({
      code: "bus_unreachable",
      message: `cannot connect to nats at ${redactUrl(opts.url)}: ${describeError(err).message}`,
      hint: "Check NATS_URL and that nats-server runs with JetStream enabled (-js)",
      retryable: true,
      cause: err,
    });
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (err) {
    await nc.close().catch(() => {});
    throw new BusError({
      code: "bus_unreachable",
      message: `nats at ${redactUrl(opts.url)} offers no jetstream: ${describeError(err).message}`,
      hint: "Start nats-server with JetStream enabled (-js)",
      retryable: true,
      cause: err,
    });
  }
  void watchStatus(nc, log, opts.name);
  const core: BusCore = {
    nc,
    js: jetstream(nc),
    jsm,
    layout,
    log,
    lastErrors: new LastErrors(),
    publishTimeoutMs: opts.publishTimeoutMs ?? 5_000,
    observer: opts.observer,
  };
  return new NatsBus(core);
}

async function watchStatus(nc: NatsConnection, log: BusLogger, name: string): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect") log.warn("nats disconnected; reconnecting", { connection: name });
    else if (s.type === "reconnect") log.info("nats reconnected", { connection: name });
  }
}

class NatsBus implements Bus {
  readonly #core: BusCore;
  readonly #consumptions = new Set<Consumption>();

  constructor(core: BusCore) {
    this.#core = core;
  }

  get nc() {
    return this.#core.nc;
  }
  get js() {
    return this.#core.js;
  }
  get jsm() {
    return this.#core.jsm;
  }
  get layout() {
    return this.#core.layout;
  }
  get log() {
    return this.#core.log;
  }

  async ensureStreams(): Promise<void> {
    for (const kind of ["commands", "events", "deadLetters"] as const) {
      await ensureStream(this.#core, streamConfig(this.#core.layout, kind));
    }
  }

  async publish<T extends MessageType>(type: T, data: DataInput<T>, opts: PublishOptions = {}): Promise<PublishResult<T>> {
    const message = makeMessage(type, data); // throws MalformedMessageError before anything is sent
    const subject = this.#core.layout.subject(subjectOf(type));
    const payload = new TextEncoder().encode(JSON.stringify(message));
    const msgId = opts.msgId ?? message.id;
    const { seq, duplicate } = await publishWithRetry(this.#core, { subject, payload, msgId, headers: opts.headers });
    if (!duplicate) tellObserver(this.#core, () => this.#core.observer?.published?.(message));
    return { seq, duplicate, message };
  }

  consume(opts: ConsumeOptions): Promise<Consumption> {
    return this.#track(startConsuming(this.#core, { ...opts, kind: "commands" }));
  }

  consumeEvents(opts: EventConsumeOptions): Promise<Consumption> {
    return this.#track(startConsuming(this.#core, { ...opts, kind: "events" }));
  }

  readEvents(opts: ReadEventsOptions): AsyncGenerator<StoredEvent> {
    return readEvents(this.#core, opts);
  }

  async #track(started: Promise<Consumption>): Promise<Consumption> {
    const consumption = await started;
    this.#consumptions.add(consumption);
    void consumption.done.finally(() => this.#consumptions.delete(consumption));
    return consumption;
  }

  watchDeadLetters(opts: { kind?: "commands" | "events"; durable: string; onDeadLetter?: DeadLetterHook }): { stop(): void } {
    const kind = opts.kind ?? "commands";
    const sub = watchMaxDeliveries(this.#core, {
      kind,
      stream: this.#core.layout.stream(kind),
      durable: opts.durable,
      ...(opts.onDeadLetter ? { onDeadLetter: opts.onDeadLetter } : {}),
    });
    return { stop: () => sub.unsubscribe() };
  }

  async deleteStreams(): Promise<void> {
    const { layout, jsm } = this.#core;
    if (!layout.prefix) throw new Error("deleteStreams is for prefixed (test) buses only");
    for (const kind of ["commands", "events", "deadLetters"] as const) {
      await jsm.streams.delete(layout.stream(kind)).catch((err: unknown) => {
        if (!(err instanceof JetStreamApiError && err.code === 10059)) throw err;
      });
    }
  }

  async drain(): Promise<void> {
    await Promise.all([...this.#consumptions].map((c) => c.stop()));
    if (!this.#core.nc.isClosed()) await this.#core.nc.drain();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumptions].map((c) => c.abort()));
    if (!this.#core.nc.isClosed()) await this.#core.nc.close();
  }
}

/** The configuration of one of the three streams. */
export function streamConfig(layout: BusLayout, kind: StreamKind): Partial<StreamConfig> & { name: string } {
  const base = {
    name: layout.stream(kind),
    subjects: layout.streamSubjects(kind),
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
  };
  switch (kind) {
    case "commands":
      return { ...base, retention: RetentionPolicy.Workqueue, duplicate_window: ms(COMMAND_DEDUP_WINDOW_MS) };
    case "events":
      return { ...base, retention: RetentionPolicy.Limits, max_age: ms(EVENT_MAX_AGE_MS), duplicate_window: ms(2 * 60_000) };
    case "deadLetters":
      return { ...base, retention: RetentionPolicy.Limits, max_age: ms(DEAD_LETTER_MAX_AGE_MS), duplicate_window: ms(2 * 60_000) };
  }
}

async function ensureStream(core: BusCore, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  const { jsm } = core;
  try {
    const info = await jsm.streams.info(cfg.name);
    if (info.config.retention !== cfg.retention || info.config.storage !== cfg.storage) {
      throw new BusError({
        code: "bus_setup_failed",
        message: `stream ${cfg.name} exists with retention ${info.config.retention}/${info.config.storage}, expected ${cfg.retention}/${cfg.storage}`,
        hint: "Retention and storage cannot be changed in place: drain and delete the stream, then start a service again",
      });
    }
    const drifted =
      info.config.max_age !== (cfg.max_age ?? 0) ||
      info.config.duplicate_window !== cfg.duplicate_window ||
      JSON.stringify([...info.config.subjects].sort()) !== JSON.stringify([...(cfg.subjects ?? [])].sort());
    if (drifted) {
      await jsm.streams.update(cfg.name, { ...info.config, ...cfg });
      core.log.info("stream updated", { stream: cfg.name });
    }
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === 10059)) throw setupError(cfg.name, err);
    try {
      await jsm.streams.add(cfg);
      core.log.info("stream created", { stream: cfg.name });
    } catch (addErr) {
      // Another replica may have created it between our info and add: fine if it is there now.
      await jsm.streams.info(cfg.name).catch(() => {
        throw setupError(cfg.name, addErr);
      });
    }
  }
}

function setupError(stream: string, err: unknown): BusError {
  if (err instanceof BusError) return err;
  return new BusError({
    code: "bus_setup_failed",
    message: `cannot set up stream ${stream}: ${describeError(err).message}`,
    retryable: true,
    cause: err,
  });
}
