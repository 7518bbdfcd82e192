import { Writable } from "node:stream";
import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import type { Log } from "@hesaab/contracts";

/**
 * Keys whose values are secrets wherever they appear in a log entry (top level or one level down):
 * pino's `redact` replaces them before the line is written. Secrets are `Secret`s (printing
 * `**redacted**`) already; this is the second fence for a value that slipped in as a plain string.
 */
export const REDACT_PATHS = [
  "password",
  "secret",
  "token",
  "authorization",
  "cookie",
  "secretAccessKey",
  "accessKeyId",
  "masterKeys",
  "*.password",
  "*.secret",
  "*.token",
  "*.authorization",
  "*.cookie",
  "*.secretAccessKey",
  "*.accessKeyId",
  "*.masterKeys",
  "req.headers.authorization",
  "req.headers.cookie",
];

export interface LoggerFactoryOptions {
  /** The service's name, on every line as `service`. */
  service: string;
  /** pino level. Default `info` (`HESAAB_LOG_LEVEL` where the service reads it). */
  level?: string;
  /** Where lines go. Default stdout: pretty on a terminal, JSON lines otherwise. */
  destination?: DestinationStream;
  /** Force (or refuse) the pretty form. Default: stdout is a TTY. */
  pretty?: boolean;
}

/**
 * The pino options every service shares: one JSON line per entry, shaped like the lines the bus
 * wrote before (`level` as a word, `at` as an ISO time, `message`), plus the service's name.
 */
export function loggerOptions({ service, level = "info" }: Pick<LoggerFactoryOptions, "service" | "level">): LoggerOptions {
  return {
    name: service,
    level,
    base: { service },
    messageKey: "message",
    timestamp: () => `,"at":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
}

/**
 * A service's logger: JSON lines for machines, a short readable line on a terminal. Written
 * synchronously: the services log little, and a line written just before `process.exit` (a failed
 * start, the end of a shutdown) must not be lost in a buffer.
 */
export function createLogger(opts: LoggerFactoryOptions): Logger {
  const pretty = opts.pretty ?? (opts.destination === undefined && process.stdout.isTTY === true);
  const destination = opts.destination ?? (pretty ? prettyStream(process.stdout) : pino.destination({ dest: 1, sync: true }));
  return pino(loggerOptions(opts), destination);
}

/** The `Log` port (message first, context second) over a pino logger (context first). */
export function asLog(logger: Logger): Log {
  return {
    info: (message, context) => logger.info(context ?? {}, message),
    warn: (message, context) => logger.warn(context ?? {}, message),
    error: (message, context) => logger.error(context ?? {}, message),
  };
}

const LEVEL_COLORS: Record<string, string> = { error: "31", fatal: "31", warn: "33", info: "32", debug: "90", trace: "90" };
const QUIET_KEYS = new Set(["level", "at", "message", "service", "name", "pid", "hostname"]);

/**
 * A terminal's form of the JSON line: `12:00:01 info  backup-svc: message key=value`. Small on
 * purpose (no pino-pretty): it runs in the bundled services, where a worker-thread transport would
 * have to be resolved from node_modules at run time.
 */
export function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) out.write(`${prettyLine(line)}\n`);
      done();
    },
  });
}

export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = String(entry.level ?? "info");
  const time = typeof entry.at === "string" ? entry.at.slice(11, 19) : "";
  const rest = Object.entries(entry)
    .filter(([k]) => !QUIET_KEYS.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const color = LEVEL_COLORS[level] ?? "0";
  return `${time} \x1b[${color}m${level.padEnd(5)}\x1b[0m ${String(entry.service ?? "")}: ${String(entry.message ?? "")}${rest ? ` ${rest}` : ""}`;
}

/** Says nothing; for tests. */
export const silentLog: Log = { info: () => {}, warn: () => {}, error: () => {} };
