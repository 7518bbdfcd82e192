// dr-svc as it runs (its main, in a child process): the health port it opens, found from its
// "http listening" log line (port 0), against Postgres and the R2 endpoint behind TCP proxies.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { freshDatabase, observeHealthPort, tcpProxy, testEnv, waitFor, type FreshDatabase, type TcpProxy } from "@hesaab/testkit";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let db: FreshDatabase;
let postgres: TcpProxy;
let s3: TcpProxy;
let child: ChildProcess;
let output = "";

beforeAll(async () => {
  db = await freshDatabase("drsvc_health");
  await migrate({ url: db.url });
  postgres = await tcpProxy(db.url);
  s3 = await tcpProxy(testEnv().R2_ENDPOINT_URL!);
  child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: appDir,
    env: {
      ...process.env,
      ...testEnv(),
      PLATFORM_DATABASE_URL: postgres.url,
      BACKUP_DATABASE_URL: postgres.url,
      R2_ENDPOINT_URL: s3.url,
      HESAAB_BUS_PREFIX: `D${randomBytes(3).toString("hex")}`,
      DR_SVC_HTTP_PORT: "0",
      DATABASE_CONNECT_TIMEOUT_MS: "2000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (d: Buffer) => void (output += d.toString()));
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  await postgres?.close();
  await s3?.close();
  await db?.drop();
});

describe("dr-svc health port", () => {
  it("logs the port it listens on as JSON; /readyz degraded without R2, not ready without Postgres; /metrics parses", async () => {
    const listening = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`dr-svc exited (${child.exitCode}):\n${output}`);
      return output
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { message?: string; service?: string; url?: string })
        .find((l) => l.message === "http listening");
    }, "dr-svc's health port");
    expect(listening.service).toBe("dr-svc");
    await waitFor(() => output.includes("dr-svc started"), "dr-svc started");
    const seen = await observeHealthPort(listening.url!, { postgres, s3 });
    expect(seen.healthz).toBe(200);
    expect(seen.ready).toMatchObject({ status: 200, body: { status: "ready" } });
    expect(Object.keys(seen.ready.body.checks).sort()).toEqual(["b2", "catalog_db", "nats", "r2"]);
    expect(seen.metrics.get("hesaab_backups_finished_total")?.type).toBe("counter");
    expect(seen.metrics.get("nodejs_heap_size_used_bytes")?.type).toBe("gauge");
    expect(seen.oneProviderDown).toMatchObject({ status: 200, body: { status: "degraded" } });
    expect(seen.postgresDown).toMatchObject({ status: 503, body: { status: "not_ready" } });
    expect(seen.recovered).toMatchObject({ status: 200, body: { status: "ready" } });
  });
});
