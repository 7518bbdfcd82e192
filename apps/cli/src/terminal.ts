// Where the CLI writes what only the person at the keyboard may read (a demo's sign-in links): the
// terminal, never a log. Standard output is a log as soon as it is redirected (`./scripts/up >
// demo.log`, a service manager, CI), and a link there signs in whoever reads the log, for hours.
import { openSync, writeSync } from "node:fs";

export type TerminalWriter = (text: string) => void;

/**
 * A writer to the terminal: standard output when it is one, else the controlling terminal
 * (`/dev/tty`) when the process has one; undefined when there is none (a detached service, CI):
 * the caller then says how to get the secret instead of printing it.
 */
export function terminalWriter(o: { stdout?: { isTTY?: boolean; write(text: string): unknown }; openTty?: () => number } = {}): TerminalWriter | undefined {
  const stdout = o.stdout ?? process.stdout;
  if (stdout.isTTY) return (text) => void stdout.write(text);
  let fd: number;
  try {
    fd = (o.openTty ?? (() => openSync("/dev/tty", "w")))();
  } catch {
    return undefined; // no controlling terminal (ENXIO), or one we may not open
  }
  return (text) => void writeSync(fd, text);
}
