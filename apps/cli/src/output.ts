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
