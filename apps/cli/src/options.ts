// Refusing bad command-line input, the same way in every command.
import { InvalidArgumentError } from "commander";
import { CliError } from "./errors";

/** The command was called the wrong way (stable code `usage`); `hint` shows a right way. */
export function usageError(message: string, hint?: string): CliError {
  return new CliError({ code: "usage", message, ...(hint ? { hint } : {}) });
}

// commander argParsers: a bad value is refused before the command runs, as
// "option '--jobs <n>' argument 'x' is invalid. expected a positive integer".

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number, 0 or more");
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number");
  return n;
}

export function percent(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError("expected a percentage from 0 to 100");
  return n;
}
