// The deploys as they ship: each service built, deployed with `pnpm deploy --prod` into a folder
// outside the repository, started there with plain `node dist/main.js` against the local stack; the
// one-file CLI copied alone into an empty folder and run. Nothing here may resolve a module from the
// checkout: a missing dependency or a file left behind by the bundle shows up as a failed start.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { freshDatabase, testEnv, waitFor, type FreshDatabase } from "@hesaab/testkit";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * Each service is started with its HTTP port at 0 and tells the port it got in its log: a JSON line
 * `{"message":"http listening","url":…}` (the services' health port) or `gateway listening on <url>`.
 * It is ready when `GET <url>/readyz` answers 200 with status "ready".
 */
const SERVICES = [
  { name: "backup-svc", portVariable: "BACKUP_SVC_HTTP_PORT" },
  { name: "storage-svc", portVariable: "STORAGE_SVC_HTTP_PORT" },
  { name: "dr-svc", portVariable: "DR_SVC_HTTP_PORT" },
  { name: "gateway", portVariable: "GATEWAY_PORT" },
] as const;

/** The URL a started service's log says it listens on, if it said so yet. */
function listeningUrl(output: string): string | undefined {
  const gateway = /gateway listening on (http:\/\/\S+)/.exec(output);
  if (gateway) return gateway[1];
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { message?: string; url?: string };
    if (entry.message === "http listening" && entry.url) return entry.url;
  }
  return undefined;
}

let out: string;
let database: FreshDatabase;
const prefix = `deploy-${randomBytes(3).toString("hex")}`;
const children: ChildProcess[] = [];

/** The environment a deployed service gets: the stack's connections and keys, nothing from this checkout. */
function serviceEnv(): NodeJS.ProcessEnv {
  const stack = testEnv();
  const keep = Object.entries(stack).filter(([k]) =>
    /^(B2_|R2_|NATS_URL$|BACKUP_MASTER_KEYS$|DR_MASTER_KEYS$|TENANT_SESSION_SECRET$|ADMIN_SESSION_SECRET$)/.test(k),
  );
  return {
    ...Object.fromEntries(keep),
    PATH: process.env.PATH,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "1",
    PLATFORM_DATABASE_URL: database.url,
    BACKUP_DATABASE_URL: database.url,
    HESAAB_BUS_PREFIX: prefix,
    HESAAB_DATA_DIR: path.join(out, "data"),
    BACKUP_SCHEDULE_ENABLED: "false",
    STORAGE_SCHEDULES_ENABLED: "false",
    // every port at 0: the log line tells which one each got
    GATEWAY_PORT: "0",
    BACKUP_SVC_HTTP_PORT: "0",
    STORAGE_SVC_HTTP_PORT: "0",
    DR_SVC_HTTP_PORT: "0",
  };
}

beforeAll(async () => {
  out = await mkdtemp(path.join(os.tmpdir(), "hesaab-deploy-"));
  database = await freshDatabase("deploy");
  await migrate({ url: database.url });
  // Every app's build (and what it needs first: the SPAs the gateway ships), as `pnpm build` does it.
  await run("pnpm", ["--filter", "@hesaab/deploy-test^...", "build"], { cwd: repo, maxBuffer: 64 << 20 });
}, 1_200_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await database?.drop();
  if (out) await rm(out, { recursive: true, force: true });
});

/** Starts `node dist/main.js` in `dir`; resolves once its `/readyz` answers ready, with the URL it listens on. */
async function start(name: string, dir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ["dist/main.js"], { cwd: dir, env: serviceEnv(), stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout.on("data", (d: Buffer) => void (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => void (output += d.toString()));
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  const url = await waitFor(
    async () => {
      if (exited !== undefined) throw new Error(`${name} exited (${exited}) before it was ready:\n${output}`);
      const at = listeningUrl(output);
      if (!at) return undefined;
      const res = await fetch(`${at}/readyz`).catch(() => undefined);
      const body = res && ((await res.json()) as { status?: string });
      return res?.status === 200 && body?.status === "ready" && at;
    },
    `${name}'s /readyz to answer ready`,
    120_000,
  );
  return { child, url, output: () => output };
}

describe("per-service deploys", () => {
  it.each(SERVICES)(
    "$name: pnpm deploy --prod, copied out of the repository, starts with node and GET /readyz answers ready",
    async ({ name, portVariable }) => {
      const dir = path.join(out, name);
      // --legacy: the workspace does not inject its packages (they are bundled into dist/ anyway)
      await run("pnpm", ["--filter", `@hesaab/${name}`, "deploy", "--prod", "--legacy", dir], { cwd: repo, maxBuffer: 64 << 20 });
      expect(existsSync(path.join(dir, "dist", "main.js"))).toBe(true);
      // only npm packages: the workspace is in the bundle; the local-S3 server is never shipped
      const installed = await readdir(path.join(dir, "node_modules"));
      expect(installed.filter((n) => n.startsWith("@hesaab"))).toEqual([]);
      expect(existsSync(path.join(dir, "node_modules", ".pnpm", "node_modules", "s3rver"))).toBe(false);

      const { child, url, output } = await start(name, dir);
      // the bundle carries prom-client: its metrics are there, with the process's own
      const metrics = await fetch(`${url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^# HELP hesaab_/m);
      expect(serviceEnv()[portVariable]).toBe("0");
      if (name === "gateway") {
        const res = await fetch(`${url}/trpc/health`);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ result: { data: { ok: true } } });
        // the SPAs ship inside the deploy (dist/web), found without the checkout
        const admin = await fetch(`${url}/admin/`);
        expect(admin.status).toBe(200);
        expect(await admin.text()).toContain("<div id=");
      }
      // the libdeflate, libzstd and rowsum addons beside the bundle load (else @hesaab/gzip or @hesaab/zstd warns and uses
      // node:zlib, @hesaab/tenant-data its JavaScript row checksum)
      expect(output()).not.toMatch(/HESAAB_GZIP_FALLBACK|HESAAB_ZSTD_FALLBACK|HESAAB_ROWSUM_FALLBACK|\.node does not load/);
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    },
    600_000,
  );

  it("the one-file CLI, copied alone to an empty folder, runs `hesaab dr list` against the stack", async () => {
    const dir = await mkdtemp(path.join(out, "cli-"));
    for (const file of ["hesaab", "deflate.node", "zstd.node", "rowsum.node"]) await copyFile(path.join(repo, "apps/cli/dist", file), path.join(dir, file));
    const stack = testEnv();
    const env = {
      PATH: process.env.PATH,
      HESAAB_NO_STACK_ENV: "1",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "1",
      ...Object.fromEntries(Object.entries(stack).filter(([k]) => /^(B2_|R2_|DR_MASTER_KEYS$)/.test(k))),
    };
    // executable as it is (its #! line), no node_modules anywhere above it
    const { stdout, stderr } = await run(path.join(dir, "hesaab"), ["dr", "list", "--json"], { cwd: dir, env, maxBuffer: 64 << 20 });
    expect(stderr).not.toMatch(/HESAAB_GZIP_FALLBACK/);
    const listing = JSON.parse(stdout) as { backups: unknown[]; providers: { provider: string; ok: boolean }[] };
    expect(Array.isArray(listing.backups)).toBe(true);
    expect(listing.providers.map((p) => [p.provider, p.ok])).toEqual([
      ["b2", true],
      ["r2", true],
    ]);
  }, 300_000);
});
