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
 * How each service shows it is ready today.
 * TODO(merge, issue 16 + health endpoints): switch every check to `GET /readyz` on the service's
 * health port once the services open one (HEALTH_PORT/METRICS_PORT, another branch); until then a
 * worker is ready when it prints that it runs (its bus consumers exist by then), the gateway when
 * its `health` procedure answers.
 */
const SERVICES = [
  { name: "backup-svc", ready: /backup-svc running/ },
  { name: "storage-svc", ready: /storage-svc running/ },
  { name: "dr-svc", ready: /dr-svc started/ },
  { name: "gateway", ready: /gateway listening on (http:\/\/\S+)/ },
] as const;

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
    GATEWAY_PORT: "0",
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

/** Starts `node dist/main.js` in `dir`; resolves with the match of `ready` in its output. */
async function start(name: string, dir: string, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  const child = spawn(process.execPath, ["dist/main.js"], { cwd: dir, env: serviceEnv(), stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout.on("data", (d: Buffer) => void (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => void (output += d.toString()));
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  const match = await waitFor(
    () => {
      if (exited !== undefined) throw new Error(`${name} exited (${exited}) before it was ready:\n${output}`);
      return ready.exec(output);
    },
    `${name} to be ready`,
    120_000,
  );
  return { child, match, output: () => output };
}

describe("per-service deploys", () => {
  it.each(SERVICES)(
    "$name: pnpm deploy --prod, copied out of the repository, starts with node and is ready",
    async ({ name, ready }) => {
      const dir = path.join(out, name);
      // --legacy: the workspace does not inject its packages (they are bundled into dist/ anyway)
      await run("pnpm", ["--filter", `@hesaab/${name}`, "deploy", "--prod", "--legacy", dir], { cwd: repo, maxBuffer: 64 << 20 });
      expect(existsSync(path.join(dir, "dist", "main.js"))).toBe(true);
      // only npm packages: the workspace is in the bundle; the local-S3 server is never shipped
      const installed = await readdir(path.join(dir, "node_modules"));
      expect(installed.filter((n) => n.startsWith("@hesaab"))).toEqual([]);
      expect(existsSync(path.join(dir, "node_modules", ".pnpm", "node_modules", "s3rver"))).toBe(false);

      const { child, match, output } = await start(name, dir, ready);
      if (name === "gateway") {
        const res = await fetch(`${match[1]}/trpc/health`);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ result: { data: { ok: true } } });
        // the SPAs ship inside the deploy (dist/web), found without the checkout
        const admin = await fetch(`${match[1]}/admin/`);
        expect(admin.status).toBe(200);
        expect(await admin.text()).toContain("<div id=");
      }
      // the libdeflate addon beside the bundle loads (else @hesaab/gzip warns and uses node:zlib)
      expect(output()).not.toMatch(/HESAAB_GZIP_FALLBACK|deflate\.node does not load/);
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    },
    600_000,
  );

  it("the one-file CLI, copied alone to an empty folder, runs `hesaab dr list` against the stack", async () => {
    const dir = await mkdtemp(path.join(out, "cli-"));
    for (const file of ["hesaab", "deflate.node"]) await copyFile(path.join(repo, "apps/cli/dist", file), path.join(dir, file));
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
