/**
 * The base of every error this system raises on purpose. `code` is stable (tests, the gateway and
 * scripts match on it); `retryable` says whether trying the same thing again may succeed; `hint` is
 * one sentence telling a person what to do. Messages are lowercase and never contain secrets.
 */
export class HesaabError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly hint: string | undefined;
  readonly context: Record<string, unknown>;

  constructor(opts: {
    code: string;
    message: string;
    retryable?: boolean;
    hint?: string;
    cause?: unknown;
    context?: Record<string, unknown>;
  }) {
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
