// Shared output helpers for commands: `--json` prints machine-readable results on stdout;
// progress goes to stderr, only when it is a terminal.

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function progressLine(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
}

export function progressDone(text?: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text ? `${text}\n` : ""}`);
}
