// What a capability (a package) takes from its shell instead of a bus, so the same code runs in a
// service (NATS JetStream) and in the CLI (no bus at all).
import type { DataInput, MessageType } from "./messages";

/**
 * Publishes an event: the bus in a service; nothing, or a log line, in the CLI. Must not throw for the
 * caller's sake. `msgId` deduplicates (JetStream drops a second publish of the same id).
 */
export type Publish = <T extends MessageType>(type: T, data: DataInput<T>, opts?: { msgId?: string }) => Promise<void>;

/** Where a capability says what it did: a service's logger; stderr, or nothing, in the CLI. */
export interface Log {
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

/** A `Publish` that drops every event. */
export const noPublish: Publish = async () => {};

/** What a command or event handler needs to know about the delivery (JetStream redelivers until acked). */
export interface Delivery {
  /** 1 on the first delivery. */
  attempt: number;
  /** No redelivery will follow (max deliveries reached): a failure now is final. */
  final: boolean;
  signal?: AbortSignal | undefined;
}
