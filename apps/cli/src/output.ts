// Shared output helpers for commands: `--json` prints machine-readable results on stdout;
// progress goes to stderr, only when it is a terminal.
import { describeError, isHesaabError, queryErrorCause } from "@hesaab/config";

/**
 * What the CLI prints for an error that ends a command: a HesaabError's message, hint and code; a
 * database's refusal as its message and SQLSTATE with what to check. Never a failed statement's SQL
 * or values (drizzle puts both in its `Failed query: …` message).
 */
export function errorMessage(err: unknown): string {
  const e = queryErrorCause(err);
  const { code, message, hint } = describeError(e);
  if (isHesaabError(e)) return `error: ${hint ? `${message}. ${hint}` : message} [${code}]`;
  const sqlState = (e as { code?: unknown } | undefined)?.code;
  if (e instanceof Error && typeof sqlState === "string" && /^[0-9A-Z]{5}$/.test(sqlState)) {
    const hint =
      sqlState === "42P01" || sqlState === "3F000"
        ? "a table or schema is missing: if it is the catalog's (schema backup), run `hesaab catalog migrate`"
        : "check the database URL, its schema and the role's privileges";
    return `error: the database refused the command: ${e.message} [sqlstate ${sqlState}]. ${hint}`;
  }
  return `error: ${message}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function progressLine(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
}

export function progressDone(text?: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text ? `${text}\n` : ""}`);
}

/** 1234567 → "1.2 MB"; for people, never for --json. */
export function humanBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
