// The container files under deploy/, checked as text (no docker engine, and hadolint cannot be installed
// here): the compose file parsed with `yaml`, each Dockerfile read instruction by instruction.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const deployDir = fileURLToPath(new URL("../../../deploy", import.meta.url));
const SERVICES = ["backup-svc", "storage-svc", "dr-svc", "gateway"];
/** Names whose value is a secret: never written into a compose file or an image layer. */
const SECRET = /SECRET|PASSWORD|MASTER_KEYS|ACCESS_KEY|TOKEN|DATABASE_URL/;

interface ComposeService {
  image?: string;
  build?: unknown;
  env_file?: string[];
  environment?: Record<string, string> | string[];
  healthcheck?: { test: string[] };
  volumes?: string[];
}

const compose = parse(readFileSync(path.join(deployDir, "compose.yaml"), "utf8"), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};

/** A Dockerfile as instructions (continuation lines joined, comments dropped). */
function instructions(file: string): { op: string; args: string }[] {
  return readFileSync(path.join(deployDir, file), "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

describe("deploy/compose.yaml", () => {
  it("runs PostgreSQL, NATS JetStream, two S3 endpoints, the three services and the gateway", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["backup-svc", "dr-svc", "gateway", "minio-b2", "minio-r2", "nats", "postgres", "storage-svc"]);
    expect(compose.services.nats!.healthcheck).toBeDefined();
    expect(JSON.stringify(compose.services.nats)).toContain("--jetstream");
  });

  it("every service has an image or a build, a healthcheck, and named volumes that are declared", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      expect(svc.image ?? svc.build, name).toBeDefined();
      expect(svc.healthcheck?.test.length, `${name} healthcheck`).toBeGreaterThan(0);
      for (const volume of svc.volumes ?? []) {
        const source = volume.split(":")[0]!;
        if (!source.startsWith(".") && !source.startsWith("/")) expect(Object.keys(compose.volumes), `${name} volume ${source}`).toContain(source);
      }
    }
  });

  it("our services get their configuration from an env file, and no secret is written inline", () => {
    for (const name of SERVICES) {
      const svc = compose.services[name]!;
      expect(svc.env_file, name).toEqual(["hesaab.env"]);
      expect(JSON.stringify(svc.healthcheck?.test), name).toContain("/healthz");
    }
    for (const [name, svc] of Object.entries(compose.services)) {
      const env = Array.isArray(svc.environment)
        ? Object.fromEntries(svc.environment.map((e) => e.split("=", 2) as [string, string]))
        : (svc.environment ?? {});
      for (const [key, value] of Object.entries(env)) if (SECRET.test(key)) expect(String(value), `${name} ${key}`).toMatch(/^\$\{[A-Z0-9_]+\}$/);
    }
  });

  it("the env file example names every secret and fills in none", () => {
    const lines = readFileSync(path.join(deployDir, "hesaab.env.example"), "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    const secrets = lines.map((l) => l.split("=", 2) as [string, string]).filter(([k]) => SECRET.test(k) && !k.endsWith("DATABASE_URL"));
    expect(secrets.map(([k]) => k)).toEqual(expect.arrayContaining(["BACKUP_MASTER_KEYS", "DR_MASTER_KEYS", "B2_SECRET_ACCESS_KEY", "R2_SECRET_ACCESS_KEY"]));
    for (const [key, value] of secrets) expect(value, key).toBe("");
  });
});

describe("deploy/*.Dockerfile", () => {
  it("one per service", () => {
    expect(
      readdirSync(deployDir)
        .filter((f) => f.endsWith(".Dockerfile"))
        .sort(),
    ).toEqual(SERVICES.map((s) => `${s}.Dockerfile`).sort());
  });

  it.each(SERVICES)("%s: multi-stage, runs as a non-root user, a HEALTHCHECK on /healthz, no secret in a layer, node dist/main.js", (name) => {
    const ins = instructions(`${name}.Dockerfile`);
    const froms = ins.filter((i) => i.op === "FROM");
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from.args).toMatch(/^\S+ AS [a-z-]+$/i);
    const runtime = ins.slice(ins.lastIndexOf(froms.at(-1)!));
    expect(runtime.some((i) => i.op === "COPY" && i.args.includes("--from=build"))).toBe(true);
    const users = runtime.filter((i) => i.op === "USER");
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.args).not.toMatch(/^(root|0)(:|$)/);
    const health = runtime.filter((i) => i.op === "HEALTHCHECK");
    expect(health).toHaveLength(1);
    expect(health[0]!.args).toContain("/healthz");
    for (const i of ins.filter((x) => x.op === "ENV" || x.op === "ARG")) expect(i.args, `${i.op} ${i.args}`).not.toMatch(SECRET);
    expect(runtime.at(-1)).toEqual({ op: "CMD", args: '["node", "dist/main.js"]' });
  });

  it.each([
    ["backup-svc", "BACKUP_SVC_HTTP_PORT", 9411],
    ["storage-svc", "STORAGE_SVC_HTTP_PORT", 9412],
    ["dr-svc", "DR_SVC_HTTP_PORT", 9413],
    ["gateway", "GATEWAY_PORT", 8080],
  ] as const)("%s: its HEALTHCHECK and compose's probe the port the service reads (%s=%d)", (name, variable, port) => {
    const ins = instructions(`${name}.Dockerfile`);
    expect(ins.some((i) => i.op === "ENV" && i.args.split(/\s+/).includes(`${variable}=${port}`))).toBe(true);
    expect(ins.find((i) => i.op === "HEALTHCHECK")!.args).toContain(`process.env.${variable} ?? ${port}}/healthz`);
    expect(ins.some((i) => i.op === "EXPOSE" && i.args === String(port))).toBe(true);
    expect(JSON.stringify(compose.services[name]!.healthcheck!.test)).toContain(`127.0.0.1:${port}/healthz`);
  });

  it("dr-svc's image has pg_dump/pg_restore of the database's major version (compose's postgres image)", () => {
    const major = /^postgres:(\d+)/.exec(compose.services.postgres!.image!)![1];
    const ins = instructions("dr-svc.Dockerfile");
    expect(ins.find((i) => i.op === "ARG" && i.args.startsWith("PG_MAJOR="))?.args).toBe(`PG_MAJOR=${major}`);
    expect(ins.some((i) => i.op === "RUN" && i.args.includes("postgresql-client-${PG_MAJOR}"))).toBe(true);
  });
});
