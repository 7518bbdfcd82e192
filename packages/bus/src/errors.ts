import { HesaabError } from "@hesaab/config";

/** A failure talking to NATS JetStream. Codes: `bus_unreachable`, `bus_publish_failed`, `bus_setup_failed`. */
export class BusError extends HesaabError {}

/** One line, at most `max` characters: header values and logs must not carry newlines. */
export function oneLine(text: string, max = 1000): string {
  const flat = text.replace(/[\r\n]+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** What is known about an error, safe to put in a header or a log. */
export function describeError(err: unknown): { code: string; message: string; retryable: boolean } {
  if (err instanceof HesaabError) return { code: err.code, message: oneLine(err.message), retryable: err.retryable };
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : typeof e?.name === "string" ? e.name : "error";
  const message = typeof e?.message === "string" ? e.message : String(err);
  // A malformed payload stays malformed however often it is tried.
  const retryable = code !== "message_malformed";
  return { code, message: oneLine(message), retryable };
}
