import { HesaabError } from "@hesaab/config";

/**
 * The codes of this package: a failure talking to NATS JetStream (`bus_unreachable`,
 * `bus_publish_failed`, `bus_setup_failed`) and a schedule that cannot be kept (`schedule_invalid`).
 */
export const BUS_ERROR_CODES = ["bus_unreachable", "bus_publish_failed", "bus_setup_failed", "schedule_invalid"] as const;
export type BusErrorCode = (typeof BUS_ERROR_CODES)[number];

export class BusError extends HesaabError<BusErrorCode> {}

/** One line, at most `max` characters: header values and logs must not carry newlines. */
export function oneLine(text: string, max = 1000): string {
  const flat = text.replace(/[\r\n]+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
