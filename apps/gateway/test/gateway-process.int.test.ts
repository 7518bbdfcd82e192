// The gateway as it runs in production: `src/main.ts` in a child process of its own, on a generated
// platform. Regression of issue 12's pool deadlock: export requests that each held a platform
// connection while asking the same pool for another (the plan's discovery) hung for ever once more
// of them came at once than the pool had connections, and SIGTERM then no longer stopped the gateway.
// Timeouts here only detect a hang; nothing is timed.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { connectBus } from "@hesaab/bus";
import { signSession } from "@hesaab/session";
import { migrate } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { freshDatabase, testEnv, waitFor, type FreshDatabase } from "@hesaab/testkit";
import { PLATFORM_POOL_MAX } from "../src/gateway";
import type { AppRouter } from "@hesaab/api";

const appDir = fileURLToPath(new URL("..", import.meta.url));
const secret = randomBytes(24).toString("base64"); // 32 characters
const prefix = `GP${randomBytes(3).toString("hex")}`;

let database: FreshDatabase;
let platform: GenerateResult;
let dataDir: string;
let child: ChildProcess | undefined;
const children: ChildProcess[] = [];
let address: string;
let output = "";

/** `promise`, or a failure naming `what` once `ms` passed: a hang detector, not a measurement. */
function within<T>(promise: Promise<T>, what: string, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung: ${what} (no answer within ${ms / 1000} s)\ngateway output:\n${output}`)), ms);
  });
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}

beforeAll(async () => {
  database = await freshDatabase("gw_process");
  await createPlatformSchema({ url: database.url });
  platform = await generatePlatform({ url: database.url, tenants: PLATFORM_POOL_MAX + 4, scale: 0.02 });
  await migrate({ url: database.url });
  dataDir = await mkdtemp(path.join(os.tmpdir(), "gw-process-"));
  ({ child, address } = await startProcess());
}, 180_000);

/** `src/main.ts` as a child process (`node --import tsx`: the gateway is the child itself, no wrapper to relay signals). */
async function startProcess(extra: Record<string, string> = {}): Promise<{ child: ChildProcess; address: string }> {
  const env = testEnv();
  const proc = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: appDir,
    env: {
      PATH: env.PATH,
      NATS_URL: env.NATS_URL,
      PLATFORM_DATABASE_URL: database.url,
      BACKUP_DATABASE_URL: database.url,
      HESAAB_BUS_PREFIX: prefix,
      HESAAB_DATA_DIR: dataDir,
      GATEWAY_PORT: "0",
      TENANT_SESSION_SECRET: secret,
      BACKUP_MASTER_KEYS: `1:${randomBytes(32).toString("base64")}`,
      ...extra,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(proc);
  let own = "";
  proc.stdout.on("data", (d: Buffer) => void ((own += d.toString()), (output += d.toString())));
  proc.stderr.on("data", (d: Buffer) => void (output += d.toString()));
  const listening = await within(
    new Promise<string>((resolve, reject) => {
      proc.once("exit", (code) => reject(new Error(`the gateway exited (${code}) before listening:\n${output}`)));
      proc.stdout.on("data", () => {
        const m = /gateway listening on (http:\/\/\S+)/.exec(own);
        if (m) resolve(m[1]!);
      });
    }),
    "the gateway starting",
  );
  return { child: proc, address: listening };
}

const exited = (proc: ChildProcess) =>
  new Promise<number | null>((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.once("exit", (code) => resolve(code))));

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  const bus = await connectBus({ url: testEnv().NATS_URL!, name: "gw-process-cleanup", prefix });
  await bus.deleteStreams().catch(() => {});
  await bus.close();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function client(tenantId: string) {
  const token = signSession({ kind: "tenant", tenantId, userId: "user-1", role: "owner", hours: 1, secret: Buffer.from(secret, "utf8") }).then((s) => s.token);
  return createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${address}/trpc`, headers: async () => ({ authorization: `Bearer ${await token}` }) })] });
}

/** An answer: the export, or a refusal the user is told (daily limit, a tenant that cannot export). */
async function answer(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "queued";
  } catch (err) {
    if (err instanceof TRPCClientError) return String((err as TRPCClientError<AppRouter>).data?.code);
    throw err;
  }
}

describe("the gateway process", () => {
  it("answers more export requests at once than its platform pool has connections, with no plan cached", { timeout: 120_000 }, async () => {
    const tenants = platform.tenants.map((t) => t.id);
    // the first requests after start find no plan cached: each discovers one (as after the cache's 60 s)
    const burst = tenants.slice(0, PLATFORM_POOL_MAX + 2).map((t) => answer(client(t).tenant.exports.request.mutate()));
    // and one tRPC batch of five requests, of one more tenant
    const batcher = client(tenants[PLATFORM_POOL_MAX + 2]!);
    const batch = Array.from({ length: 5 }, () => answer(batcher.tenant.exports.request.mutate()));
    const answers = await within(Promise.all([...burst, ...batch]), `${burst.length} concurrent export requests and a batch of ${batch.length}`);
    for (const a of answers) expect(["queued", "TOO_MANY_REQUESTS", "FORBIDDEN"]).toContain(a);
    // of the batch (one tenant, one day), one is queued and the others are told the daily limit
    expect(answers.slice(-5).sort()).toEqual(["TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS", "queued"]);
    // and the gateway still serves: another tenant's list answers
    expect(await within(client(tenants.at(-1)!).tenant.exports.list.query(), "a list after the burst")).toMatchObject({ askedToday: false });
  });

  it("stops on SIGTERM", { timeout: 60_000 }, async () => {
    child!.kill("SIGTERM");
    expect(await within(exited(child!), "the gateway exiting on SIGTERM", 30_000)).toBe(0);
  });

  it("stops on SIGTERM with a request that does not end: cut at GATEWAY_SHUTDOWN_GRACE_MS, exit code 1", { timeout: 90_000 }, async () => {
    const stuck = await startProcess({ GATEWAY_SHUTDOWN_GRACE_MS: "500" });
    const { port } = new URL(stuck.address);
    // a client that sends a request's head and part of its body, then nothing: the request stays in flight
    const socket = connect({ host: "127.0.0.1", port: Number(port) });
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    socket.write("POST /trpc/tenant.exports.request HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
    await waitFor(() => /"url":"\/trpc\/tenant\.exports\.request"/.test(output.slice(output.lastIndexOf(stuck.address))), "the request in flight");
    stuck.child.kill("SIGTERM");
    expect(await within(exited(stuck.child), "the gateway exiting on SIGTERM with a request in flight", 30_000)).toBe(1);
    await within(closed, "the stalled connection cut");
  });
});
