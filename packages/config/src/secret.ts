import { inspect } from "node:util";

const REDACTED = "**redacted**";

/**
 * A value that must never be printed. `String(secret)`, `JSON.stringify` and `console.log`
 * all show `**redacted**`; only `reveal()` gives the value, and only code that needs it calls it.
 */
export class Secret<T = string> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

/** A connection URL with its password (and any `password=` query parameter) replaced, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = REDACTED;
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) parsed.searchParams.set(key, REDACTED);
    }
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, `//$1:${REDACTED}@`);
  }
}
