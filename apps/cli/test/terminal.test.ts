// A demo's sign-in links reach the terminal only: never the demo's output, which is a log once
// redirected (and where the services' lines go too).
import { spawn } from "node:child_process";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { announceSignIn } from "../src/commands/demo";
import { terminalWriter } from "../src/terminal";

const cliDir = fileURLToPath(new URL("..", import.meta.url));
const redirected = () => {
  const written: string[] = [];
  return { stream: { isTTY: false, write: (t: string) => written.push(t) }, written };
};

describe("terminalWriter", () => {
  it("writes to standard output when it is a terminal", () => {
    const written: string[] = [];
    terminalWriter({ stdout: { isTTY: true, write: (t: string) => written.push(t) } })!("link\n");
    expect(written).toEqual(["link\n"]);
  });

  it("writes to the controlling terminal, not to a redirected standard output", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "tty-"));
    try {
      const tty = await open(path.join(dir, "tty"), "w"); // stands in for /dev/tty
      const out = redirected();
      terminalWriter({ stdout: out.stream, openTty: () => tty.fd })!("link\n");
      await tty.close();
      expect(await readFile(path.join(dir, "tty"), "utf8")).toBe("link\n");
      expect(out.written).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("is none without a terminal: a process in its own session with its output in a file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "notty-"));
    try {
      const log = await open(path.join(dir, "out.log"), "w");
      const code = `import { terminalWriter } from "./src/terminal.ts"; process.stdout.write(terminalWriter() ? "terminal" : "none");`;
      // detached: setsid, so the child has no controlling terminal, as a service or a CI job
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
        cwd: cliDir,
        detached: true,
        stdio: ["ignore", log.fd, log.fd],
      });
      await new Promise((resolve) => child.once("exit", resolve));
      await log.close();
      expect(await readFile(path.join(dir, "out.log"), "utf8")).toBe("none");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the demo's sign-in links", () => {
  const links = {
    admin: async () => "http://127.0.0.1:8080/admin/#session=ADMIN.TOKEN",
    tenant: async () => "http://127.0.0.1:8080/app/#session=TENANT.TOKEN",
    appUrl: "http://127.0.0.1:8080",
  };

  it("go to the terminal, none to the log", async () => {
    const log: string[] = [];
    const terminal: string[] = [];
    await announceSignIn({ ...links, log: (l) => log.push(l), terminal: (t) => terminal.push(t) });
    expect(terminal.join("")).toContain("#session=ADMIN.TOKEN");
    expect(terminal.join("")).toContain("#session=TENANT.TOKEN");
    expect(log.join("\n")).not.toMatch(/session=/);
  });

  it("without a terminal: not signed, not printed; the log says how to sign one", async () => {
    const log: string[] = [];
    let signed = 0;
    await announceSignIn({
      admin: async () => `${++signed}`,
      tenant: async () => `${++signed}`,
      appUrl: links.appUrl,
      log: (l) => log.push(l),
      terminal: undefined,
    });
    expect(signed).toBe(0);
    expect(log.join("\n")).not.toMatch(/session=/);
    expect(log.join("\n")).toMatch(/pnpm hesaab admin session --user <you>/);
  });
});
