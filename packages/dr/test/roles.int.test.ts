// A database dump carries GRANTs to roles, not the roles: a rebuild on a new server would fail on
// them (or lose who owns what). The disaster backup carries the roles the database needs; the restore
// creates those the server lacks, leaves the ones it has alone, and gives objects their owners back.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageBackend } from "@hesaab/storage";
import { adminQuery, freshDatabase, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";
import { backupPlatform, dumpRoles, restorePlatform, type DisasterBackupResult } from "../src";
import { drKeyRing, provider, randomKey } from "./helpers";

const backends: StorageBackend[] = [provider("b2").backend, provider("r2").backend];
const keyRing = drKeyRing({ 1: randomKey() });
const root = uniquePrefix("dr-roles");
const p = `hrt_${randomBytes(4).toString("hex")}`;
const role = { owner: `${p}_owner`, read: `${p}_read`, app: `${p}_app`, other: `${p}_other`, weak: `${p}_weak` };
const databases: FreshDatabase[] = [];
let source: FreshDatabase;
let backup: DisasterBackupResult;

async function on<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function dropRoles(): Promise<void> {
  for (const name of Object.values(role)) await adminQuery(`drop role if exists "${name}"`);
}

async function fresh(prefix: string): Promise<FreshDatabase> {
  const db = await freshDatabase(prefix);
  databases.push(db);
  return db;
}

beforeAll(async () => {
  await adminQuery(`create role "${role.owner}" nologin`);
  await adminQuery(`create role "${role.read}" nologin`);
  await adminQuery(`create role "${role.app}" login password 'app-password-${p}' connection limit 7 in role "${role.read}"`);
  await adminQuery(`alter role "${role.app}" set statement_timeout = '5s'`);
  await adminQuery(`create role "${role.other}" login`); // on the server, not used by the database
  source = await fresh("dr_roles");
  await on(
    source.url,
    `create schema acct authorization "${role.owner}";
     create table acct.ledger (id int primary key, amount numeric);
     alter table acct.ledger owner to "${role.owner}";
     insert into acct.ledger select g, g * 1.5 from generate_series(1, 50) g;
     grant usage on schema acct to "${role.read}";
     grant select on acct.ledger to "${role.read}";`,
  );
  backup = await backupPlatform({ platformUrl: source.url, keyRing, backends, root, requestedBy: "test" });
}, 120_000);

afterAll(async () => {
  for (const db of databases) await db.drop();
  await dropRoles();
});

describe("disaster recovery: the server's roles", () => {
  it("the dump takes the roles the database refers to, their groups and members, with their hashes; not the server's others", async () => {
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    try {
      const dump = await dumpRoles(client);
      const names = dump.roles.map((r) => r.name);
      expect(names).toEqual(expect.arrayContaining([role.owner, role.read, role.app, "postgres"]));
      expect(names).not.toContain(role.other);
      expect(names.some((n) => n.startsWith("pg_"))).toBe(false);
      expect(dump.passwords).toBe(true);
      const app = dump.roles.find((r) => r.name === role.app)!;
      expect(app).toMatchObject({ login: true, superuser: false, connectionLimit: 7, config: ["statement_timeout=5s"] });
      expect(app.password).toMatch(/^SCRAM-SHA-256\$/);
      expect(dump.memberships).toContainEqual({ role: role.read, member: role.app, admin: false });
    } finally {
      await client.end();
    }
  });

  it("a rebuild on a server that lacks them creates them (hash, settings, membership), leaves an existing one alone, and restores owners", async () => {
    const [{ hash }] = await on<{ hash: string }>(source.url, "select rolpassword as hash from pg_authid where rolname = $1", [role.app]);
    // the old server is gone: its database, and the roles with it; one role exists on the new server already, otherwise
    await source.drop();
    await dropRoles();
    await adminQuery(`create role "${role.read}" nologin connection limit 3`);

    const target = await fresh("dr_roles_dst");
    const report = await restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: target.url, root });
    expect(report.ok).toBe(true);
    expect(report.roles).toMatchObject({ passwords: true });
    expect(report.roles!.created).toEqual([role.app, role.owner].sort());
    expect(report.roles!.existing).toEqual(expect.arrayContaining(["postgres", role.read]));

    const [app] = await on<{ hash: string; limit: number; config: string[] }>(target.url, "select a.rolpassword as hash, r.rolconnlimit as limit, r.rolconfig as config from pg_authid a join pg_roles r on r.oid = a.oid where a.rolname = $1", [role.app]);
    expect(app).toEqual({ hash, limit: 7, config: ["statement_timeout=5s"] });
    const [read] = await on<{ limit: number }>(target.url, "select rolconnlimit as limit from pg_roles where rolname = $1", [role.read]);
    expect(read!.limit, "an existing role is not changed").toBe(3);
    expect(await on(target.url, "select 1 from pg_roles where rolname = $1", [role.other])).toEqual([]);
    const [check] = await on<{ owner: string; member: boolean; reads: boolean; rows: number }>(
      target.url,
      `select (select tableowner from pg_tables where schemaname = 'acct' and tablename = 'ledger') as owner,
              pg_has_role($1, $2, 'member') as member,
              has_table_privilege($1, 'acct.ledger', 'select') as reads,
              (select count(*)::int from acct.ledger) as rows`,
      [role.app, role.read],
    );
    expect(check).toEqual({ owner: role.owner, member: true, reads: true, rows: 50 });
    await target.drop(); // its objects belong to the roles the next tests drop
  });

  it("a restorer that may not create roles creates none, touches no database, and says what to do", async () => {
    await dropRoles();
    await adminQuery(`create role "${role.weak}" login`);
    const name = `dr_roles_weak_${Date.now().toString(36)}`;
    const url = `postgres://${role.weak}@127.0.0.1:5432/${name}`;
    await expect(restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: url, root })).rejects.toMatchObject({
      code: "dr_roles_failed",
      message: expect.stringMatching(/cannot create role .*permission denied/) as string,
      hint: expect.stringMatching(/superuser.*--skip-roles/) as string,
    });
    expect(await on(source.url.replace(/\/[^/]+$/, "/postgres"), "select rolname from pg_roles where rolname = any($1)", [[role.app, role.owner, role.read]])).toEqual([]);
    expect(await on(source.url.replace(/\/[^/]+$/, "/postgres"), "select 1 from pg_database where datname = $1", [name])).toEqual([]);
  });

  it("--skip-roles: none created; the dump's GRANT to a missing role stops pg_restore with the role named", async () => {
    await dropRoles();
    const target = await fresh("dr_roles_skip");
    await expect(restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: target.url, root, roles: "skip" })).rejects.toMatchObject({
      code: "dr_restore_failed",
      message: expect.stringMatching(/role "hrt_[0-9a-f]+_(read|owner)" does not exist/) as string,
    });
    expect(await on(target.url, "select rolname from pg_roles where rolname = any($1)", [[role.app, role.owner, role.read]])).toEqual([]);
  });
});
