/**
 * Options of a {@link HesaabError}; `C` is the closed list of codes its package raises (a union).
 */
export interface HesaabErrorOptions<C extends string = string> {
  code: C;
  message: string;
  retryable?: boolean;
  hint?: string;
  cause?: unknown;
  context?: Record<string, unknown>;
}

/**
 * The base of every error this system raises on purpose. `code` is stable (tests, the gateway and
 * scripts match on it); `retryable` says whether trying the same thing again may succeed; `hint` is
 * one sentence telling a person what to do. Messages are lowercase and never contain secrets.
 *
 * Every package names its codes once, as a const list and its union, and raises them through its own
 * subclass (`class SessionError extends HesaabError<SessionErrorCode> {}`): a code that is not in the
 * list is a type error. `HesaabError<string>` itself is for code that only reads errors (and tests).
 */
export class HesaabError<C extends string = string> extends Error {
  readonly code: C;
  readonly retryable: boolean;
  readonly hint: string | undefined;
  readonly context: Record<string, unknown>;

  constructor(opts: HesaabErrorOptions<C>) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.retryable = opts.retryable ?? false;
    this.hint = opts.hint;
    this.context = opts.context ?? {};
  }

  /** The message and the hint, as a person should read them. */
  describe(): string {
    return this.hint ? `${this.message}. ${this.hint}` : this.message;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, retryable: this.retryable, context: this.context };
  }
}

export function isHesaabError(err: unknown, code?: string): err is HesaabError {
  return err instanceof HesaabError && (code === undefined || err.code === code);
}

/**
 * The codes of this package. `config_invalid`: a variable or option is missing or malformed (any
 * package may raise it for its own settings). `unexpected`: what {@link describeError} calls an error
 * that is not a HesaabError when its caller asks for one code for all of them.
 */
export const CONFIG_ERROR_CODES = ["config_invalid", "unexpected"] as const;
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];

/** A setting (an environment variable, an option) that cannot be used as it is. */
export class ConfigError extends HesaabError<ConfigErrorCode> {}

/**
 * What a code means to a caller across a network boundary, as data: the gateway answers with the HTTP
 * status (and the tRPC code) of the meaning. Named as tRPC names them, plus `GONE` (HTTP 410: it was
 * there and will not be again), which tRPC has not.
 */
export const ERROR_HTTP_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  GONE: 410,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;
export type ErrorMeaning = keyof typeof ERROR_HTTP_STATUS;

/**
 * The error behind a failed statement. drizzle wraps one as `Failed query: <the SQL>\nparams: <values>`:
 * the statement and its values are not for people (nor for logs: values may be personal data);
 * the database's own error (its cause, with a SQLSTATE `code`) is what to show.
 */
export function queryErrorCause(err: unknown): unknown {
  let e = err;
  while (e instanceof Error && e.message.startsWith("Failed query:") && e.cause !== undefined) e = e.cause;
  return e;
}

/** One line for an error, for the catalog, events and logs: the message and a HesaabError's stable code (`message [code]`), never a stack nor a failed statement's SQL. */
export function errorText(err: unknown): string {
  const e = queryErrorCause(err);
  if (isHesaabError(e)) return `${e.message} [${e.code}]`;
  if (e instanceof Error && e.message.startsWith("Failed query:")) return "a database statement failed";
  return e instanceof Error ? e.message : String(e);
}

/** An error as services report it (events, outcomes, logs), the CLI prints it and the gateway answers with it. */
export interface ErrorDescription {
  code: string;
  message: string;
  hint?: string;
  retryable: boolean;
}

/** Node's codes for a connection that failed, broke or timed out: the other side may answer on a later try. */
const TRANSIENT_NET_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
]);

/**
 * True for a failure that says nothing about the work itself, so the same call may succeed later:
 * a PostgreSQL connection exception (SQLSTATE class 08), a serialization failure (40001), a deadlock
 * (40P01), a server shutting down or starting (57P01..57P03), too many connections (53300), a network
 * error (connection refused, reset, timed out), or node-postgres losing its connection. Looks through
 * drizzle's `Failed query` wrapper to the database's own error.
 */
/**
 * A PostgreSQL SQLSTATE that trying again may cure: a lost connection (08…), a serialization failure or
 * deadlock (40001, 40P01), the server shutting down or restarting (57P01–57P03), too many connections (53300).
 */
export function isTransientSqlState(state: string | undefined): boolean {
  if (!state) return false;
  return state.startsWith("08") || state === "40001" || state === "40P01" || /^57P0[123]$/.test(state) || state === "53300";
}

export function isTransientError(err: unknown): boolean {
  const e = queryErrorCause(err) as { code?: unknown; message?: unknown } | null | undefined;
  const code = typeof e?.code === "string" ? e.code : undefined;
  if (code !== undefined) {
    if (TRANSIENT_NET_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return isTransientSqlState(code);
  }
  // node-postgres's own errors for a lost or unobtainable connection carry no code
  return typeof e?.message === "string" && /^Connection terminated|^timeout exceeded when trying to connect/.test(e.message);
}

/**
 * One description of any error, the one every service, the CLI and the gateway use.
 *
 * - A HesaabError: its code, message, hint and `retryable`.
 * - Anything else is not ours, and the policy is: **not retryable**, unless it is transient (see
 *   {@link isTransientError}: a lost connection, a serialization failure, a deadlock). A bug is not
 *   fixed by trying again, and a report that says "retryable" must mean it. Its message never carries
 *   a failed statement's SQL (see {@link errorText}); its code is `unknownCode` when the caller gives
 *   one (`restore_failed`: "this operation failed"), otherwise the error's own code (a SQLSTATE,
 *   `ECONNRESET`) or its class name (`TypeError`).
 *
 * Whether a queued job is delivered again is a different question: see {@link isRedeliverable}.
 */
export function describeError(err: unknown, opts: { unknownCode?: string } = {}): ErrorDescription {
  if (isHesaabError(err)) return { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }), retryable: err.retryable };
  const e = queryErrorCause(err) as { code?: unknown; name?: unknown } | null | undefined;
  const code = opts.unknownCode ?? (typeof e?.code === "string" ? e.code : typeof e?.name === "string" ? e.name : "unexpected");
  return { code, message: errorText(err), retryable: isTransientError(err) };
}

/**
 * Whether a queued job whose handler failed with `err` should be delivered again (the bus does, up to
 * the consumer's max deliveries, then dead-letters it). Wider than `describeError(err).retryable` on
 * purpose: at-least-once delivery tries again anything not known to be permanent, because an unknown
 * error in a handler is as often a dependency restarting as a bug, and a bounded number of attempts
 * costs little, while dead-lettering on the first one would make every blip a person's job. Known to be
 * permanent: a HesaabError not marked retryable, and a malformed message (`message_malformed`).
 */
export function isRedeliverable(err: unknown): boolean {
  if (isHesaabError(err)) return err.retryable;
  return (err as { code?: unknown } | null | undefined)?.code !== "message_malformed";
}
