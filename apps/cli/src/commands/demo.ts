// `hesaab demo up`: the whole system on local defaults with demo data, in the foreground.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import pg from "pg";
import { connectBus } from "@hesaab/bus";
import { migrate } from "@hesaab/db";
import { createPlatformSchema, generatePlatform } from "@hesaab/platform";
import { ensureStack, repoRoot } from "@hesaab/stack";
import { adminSessionEnv, childEnv, tenantSessionEnv } from "../env";
import { positiveInt } from "../options";
import { adminSessionLink, tenantSessionLink } from "./session";
import { terminalWriter, type TerminalWriter } from "../terminal";

const SERVICES = ["backup-svc", "storage-svc", "dr-svc", "gateway"] as const;

async function activeTenantIds(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>("select id::text as id from public.tenants where status = 'active' order by created_at, id limit 5");
    return rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

async function tenantCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from public.tenants");
    return rows[0]?.n ?? 0;
  } catch {
    return 0; // no schema yet
  } finally {
    await client.end();
  }
}

function run({ name, args, env, cwd }: { name: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string }): ChildProcess {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = `[${name}] `;
  for (const stream of [child.stdout, child.stderr]) {
    let rest = "";
    stream?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line && !line.includes("NodeVersionSupportWarning")) process.stdout.write(`${prefix}${line}\n`);
    });
  }
  return child;
}

/**
 * The two apps' sign-in links, each a session for 8 hours: written to the terminal only, never to
 * the demo's output (a log once redirected; the services' lines go there too). Without a terminal
 * the log says how to sign one instead. Links are signed only when there is a terminal to show them.
 */
export async function announceSignIn(o: {
  log: (line: string) => void;
  terminal: TerminalWriter | undefined;
  admin: () => Promise<string>;
  tenant: (() => Promise<string>) | undefined;
  appUrl: string;
}): Promise<void> {
  if (!o.terminal) {
    o.log(`admin app:  ${o.appUrl}/admin/  (no terminal: sign-in links are not printed to logs; sign one with \`pnpm hesaab admin session --user <you>\`)`);
    o.log(`tenant app: ${o.appUrl}/app/  (sign one with \`pnpm hesaab tenant session <tenantId>\`)`);
    return;
  }
  const write = o.terminal;
  write(`[demo] admin app:  ${await o.admin()}\n`);
  write("[demo]             (signed in as a super admin for 8 hours: `pnpm hesaab admin session --user <you>` for another)\n");
  write(`[demo] tenant app: ${o.tenant ? await o.tenant() : `${o.appUrl}/app/`}\n`);
  write("[demo]             (signed in as an owner of the first tenant for 8 hours: `pnpm hesaab tenant session <tenantId> [--role …]` for another)\n");
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("run the whole system locally, with demo data")
    .command("up")
    .description("start the local stack and every service with demo data (Ctrl-C stops the services)")
    .option("--tenants <n>", "demo tenants", positiveInt, 25)
    .option("--no-build", "skip building the web apps")
    .action(async (opts: { tenants: number; build: boolean }) => {
      const root = repoRoot();
      const log = (line: string) => process.stdout.write(`[demo] ${line}\n`);
      const stack = await ensureStack({ log });
      log(
        `stack: ${Object.entries(stack.parts)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
      );
      const env = childEnv(stack.env);
      await migrate({ url: stack.env.BACKUP_DATABASE_URL! });
      if ((await tenantCount(stack.env.PLATFORM_DATABASE_URL!)) === 0) {
        log(`generating a demo platform of ${opts.tenants} tenants…`);
        await createPlatformSchema({ url: stack.env.PLATFORM_DATABASE_URL! });
        const result = await generatePlatform({ url: stack.env.PLATFORM_DATABASE_URL!, tenants: opts.tenants, scale: 0.5, seed: 42 });
        log(`demo platform: ${result.tenants.length} tenants, ${Object.values(result.rows).reduce((a, b) => a + b, 0)} rows`);
      }
      if (opts.build) {
        log("building the web apps…");
        await new Promise<void>((resolve, reject) => {
          const b = spawn("pnpm", ["--filter", "@hesaab/admin-web", "--filter", "@hesaab/tenant-web", "build"], { cwd: root, stdio: "ignore", env });
          b.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`web app build failed (exit ${code})`))));
        });
      }
      const children: ChildProcess[] = [];
      for (const name of SERVICES) {
        const dir = path.join(root, "apps", name);
        if (!existsSync(path.join(dir, "src", "main.ts"))) continue;
        children.push(run({ name, args: ["--import", "tsx", "src/main.ts"], env, cwd: dir }));
      }
      const stop = () => {
        for (const c of children) c.kill("SIGTERM");
        setTimeout(() => process.exit(0), 3000).unref();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);

      // Give the demo something to show: a backup of every tenant now, through the services.
      await new Promise((r) => setTimeout(r, 4000));
      const bus = await connectBus({ url: stack.env.NATS_URL!, name: "demo" });
      await bus.ensureStreams();
      await bus.publish("backup.tenant.requested.v1", { all: true, purpose: "on_demand", requestedBy: "demo" });
      await bus.publish("dr.backup.requested.v1", { purpose: "on_demand", requestedBy: "demo" });
      await bus.drain();
      log("requested a backup of every tenant and a disaster-recovery backup");
      const demoTenant = (await activeTenantIds(stack.env.PLATFORM_DATABASE_URL!))[0];
      await announceSignIn({
        log,
        terminal: terminalWriter(),
        admin: async () => (await adminSessionLink({ userId: "demo-admin", hours: 8 }, adminSessionEnv(env))).url,
        tenant: demoTenant
          ? async () => (await tenantSessionLink({ tenantId: demoTenant, userId: "demo", role: "owner", hours: 8 }, tenantSessionEnv(env))).url
          : undefined,
        appUrl: `http://127.0.0.1:${env.GATEWAY_PORT ?? 8080}`,
      });
      log(`CLI:        set -a; . ${stack.envFile}; set +a; pnpm -s hesaab backups list`);
      log("Ctrl-C stops the services (the stack stays up: `pnpm hesaab stack down`)");
      await Promise.all(children.map((c) => new Promise((r) => c.once("exit", r))));
    });
}
