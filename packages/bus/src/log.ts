import type { Log } from "@hesaab/contracts";

/** Where the bus reports what it cannot throw to a caller (a consumer loop, a dead letter, a reconnect). */
export type BusLogger = Log;

/** Writes one JSON line per entry to stderr. */
export const consoleLogger: BusLogger = {
  info: (message, context) => write("info", message, context),
  warn: (message, context) => write("warn", message, context),
  error: (message, context) => write("error", message, context),
};

function write(level: string, message: string, context?: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level, at: new Date().toISOString(), component: "bus", message, ...context })}\n`);
}

/** Says nothing; for tests that provoke failures on purpose. */
export const silentLogger: BusLogger = { info: () => {}, warn: () => {}, error: () => {} };
