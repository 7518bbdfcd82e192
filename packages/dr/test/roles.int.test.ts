// A database dump carries GRANTs to roles, not the roles: a rebuild on a new server would fail on
// them (or lose who owns what). The disaster backup carries the roles the database needs; the restore
// creates those the server lacks, leaves the ones it has alone, and gives objects their owners back
// when it can.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageBackend } from "@hesaab/storage";
import { adminQuery, freshDatabase, onDatabase, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";
import { alterRoleSetSql, backupPlatform, dumpRoles, restorePlatform, splitListSetting, type DisasterBackupResult } from "../src";
import { drKeyRing, provider, randomKey } from "./helpers";

const backends: StorageBackend[] = [provider("b2").backend, provider("r2").backend];
const keyRing = drKeyRing({ 1: randomKey() });
const root = uniquePrefix("dr-roles");
const p = `hrt_${randomBytes(4).toString("hex")}`;
const role = {
  owner: `${p}_owner`, // owns the schema and the table
  read: `${p}_read`, // granted SELECT
  app: `${p}_app`, // logs in; a member of read and of staff
  staff: `${p}_staff`, // a group app belongs to (found going up)
  peer: `${p}_peer`, // another member of staff: not this database's
  other: `${p}_other`, // on the server, nothing to do with the database
  weak: `${p}_weak`, // may not create roles
};
const databases: FreshDatabase[] = [];
let source: FreshDatabase;
let backup: DisasterBackupResult;
let appConfig: string[];

async function on<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await onDatabase(url, (client) => client.query<T>(sql, params))).rows;
}

/** Drops every test role that exists, each on its own (one that cannot be dropped leaves the others to go). */
async function dropRoles(): Promise<void> {
  for (const name of Object.values(role)) await adminQuery(`drop role if exists "${name}"`).catch(() => {});
}

async function fresh(prefix: string): Promise<FreshDatabase> {
  const db = await freshDatabase(prefix);
  databases.push(db);
  return db;
}

const server = (url: string) => url.replace(/\/[^/]+$/, "/postgres");

beforeAll(async () => {
  await adminQuery(`create role "${role.owner}" nologin`);
  await adminQuery(`create role "${role.read}" nologin`);
  await adminQuery(`create role "${role.staff}" nologin`);
  await adminQuery(`create role "${role.app}" login password 'app-password-${p}' connection limit 7 in role "${role.read}", "${role.staff}"`);
  await adminQuery(`create role "${role.peer}" login in role "${role.staff}"`);
  await adminQuery(`alter role "${role.app}" set statement_timeout = '5s'`);
  await adminQuery(`alter role "${role.app}" set search_path = acct, "My ""Odd"" Schema", public`);
  await adminQuery(`create role "${role.other}" login`);
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
  appConfig = (await on<{ config: string[] }>(source.url, "select rolconfig as config from pg_roles where rolname = $1", [role.app]))[0]!.config;
  backup = await backupPlatform({ platformUrl: source.url, keyRing, backends, root, requestedBy: "test" });
}, 120_000);

afterAll(async () => {
  for (const db of databases) await db.drop();
  await dropRoles();
});

describe("disaster recovery: the server's roles", () => {
  it("the dump takes the database's roles (owners, grantees, their members, their groups) with hashes; not a group's other members, nor the bootstrap superuser", async () => {
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    try {
      const dump = await dumpRoles(client);
      const names = dump.roles.map((r) => r.name);
      expect(names.filter((n) => n.startsWith(p)).sort()).toEqual([role.app, role.owner, role.read, role.staff].sort());
      expect(names.some((n) => n.startsWith("pg_"))).toBe(false);
      expect(names, "every server has its own bootstrap superuser").not.toContain(dump.bootstrap);
      expect(dump.owners).toEqual([role.owner]); // the schema, the table, its index and row type: the owner role's
      expect(dump.passwords).toBe(true);
      const app = dump.roles.find((r) => r.name === role.app)!;
      expect(app).toMatchObject({ login: true, superuser: false, connectionLimit: 7 });
      expect(app.config).toEqual(appConfig);
      expect(app.password).toMatch(/^SCRAM-SHA-256\$/);
      expect(dump.memberships).toEqual(
        expect.arrayContaining([
          { role: role.read, member: role.app, admin: false },
          { role: role.staff, member: role.app, admin: false },
        ]),
      );
    } finally {
      await client.end();
    }
  });

  it("read by a user who is no superuser: the roles without hashes, in the snapshot transaction, which stays usable", async () => {
    await adminQuery(`create role "${role.weak}" login`);
    const client = new pg.Client({ connectionString: source.url.replace("postgres@", `${role.weak}@`) });
    await client.connect();
    try {
      await client.query("begin isolation level repeatable read, read only");
      await client.query("select pg_export_snapshot()");
      const dump = await dumpRoles(client);
      expect(dump.passwords).toBe(false);
      expect(dump.roles.find((r) => r.name === role.app)).toMatchObject({ password: null, connectionLimit: 7 });
      expect((await client.query("select 1 as ok")).rows).toEqual([{ ok: 1 }]); // the transaction was not aborted
      await client.query("rollback");
    } finally {
      await client.end();
      await adminQuery(`drop role "${role.weak}"`);
    }
  });

  it("a rebuild on a server that lacks them creates them (hash, list settings, memberships), leaves an existing one alone, and restores owners", async () => {
    const [before] = await on<{ hash: string }>(source.url, "select rolpassword as hash from pg_authid where rolname = $1", [role.app]);
    // the old server is gone: its database, and the roles with it; one role exists on the new server already, otherwise
    await source.drop();
    await dropRoles();
    await adminQuery(`create role "${role.read}" nologin connection limit 3`);

    const target = await fresh("dr_roles_dst");
    const report = await restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: target.url, root });
    expect(report.ok).toBe(true);
    expect(report.roles).toMatchObject({ passwords: true, owners: true, unavailableOwners: [] });
    expect(report.roles!.created).toEqual([role.app, role.owner, role.staff].sort());
    expect(report.roles!.existing).toEqual([role.read]);

    const [app] = await on<{ hash: string; limit: number; config: string[] }>(
      target.url,
      "select a.rolpassword as hash, r.rolconnlimit as limit, r.rolconfig as config from pg_authid a join pg_roles r on r.oid = a.oid where a.rolname = $1",
      [role.app],
    );
    expect(app).toEqual({ hash: before!.hash, limit: 7, config: appConfig });
    const [read] = await on<{ limit: number }>(target.url, "select rolconnlimit as limit from pg_roles where rolname = $1", [role.read]);
    expect(read!.limit, "an existing role is not changed").toBe(3);
    expect(await on(target.url, "select rolname from pg_roles where rolname = any($1)", [[role.other, role.peer]])).toEqual([]);
    const [check] = await on<{ owner: string; member: boolean; staff: boolean; reads: boolean; rows: number }>(
      target.url,
      `select (select tableowner from pg_tables where schemaname = 'acct' and tablename = 'ledger') as owner,
              pg_has_role($1, $2, 'member') as member, pg_has_role($1, $3, 'member') as staff,
              has_table_privilege($1, 'acct.ledger', 'select') as reads,
              (select count(*)::int from acct.ledger) as rows`,
      [role.app, role.read, role.staff],
    );
    expect(check).toEqual({ owner: role.owner, member: true, staff: true, reads: true, rows: 50 });
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
    expect(await on(server(source.url), "select rolname from pg_roles where rolname = any($1)", [[role.app, role.owner, role.read, role.staff]])).toEqual([]);
    expect(await on(server(source.url), "select 1 from pg_database where datname = $1", [name])).toEqual([]);
  });

  it("a restorer who may not act as an owner: objects become the restorer's, grants still apply, and the report names the owner", async () => {
    await dropRoles();
    for (const r of [role.owner, role.read, role.staff]) await adminQuery(`create role "${r}" nologin`);
    await adminQuery(`create role "${role.app}" login in role "${role.read}", "${role.staff}"`);
    await adminQuery(`create role "${role.weak}" login createdb`);
    const name = `dr_roles_owners_${Date.now().toString(36)}`;
    try {
      const report = await restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: `postgres://${role.weak}@127.0.0.1:5432/${name}`, root });
      expect(report.ok).toBe(true);
      expect(report.roles).toMatchObject({ created: [], owners: false, unavailableOwners: [role.owner] });
      const url = `postgres://postgres@127.0.0.1:5432/${name}`;
      const [check] = await on<{ owner: string; reads: boolean }>(
        url,
        "select (select tableowner from pg_tables where schemaname = 'acct' and tablename = 'ledger') as owner, has_table_privilege($1, 'acct.ledger', 'select') as reads",
        [role.app],
      );
      expect(check).toEqual({ owner: role.weak, reads: true });
    } finally {
      await adminQuery(`drop database if exists "${name}" with (force)`);
    }
  });

  it("--skip-roles: none created; the dump's GRANT to a missing role stops pg_restore with the role named", async () => {
    await dropRoles();
    const target = await fresh("dr_roles_skip");
    await expect(restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: target.url, root, roles: "skip" })).rejects.toMatchObject({
      code: "dr_restore_failed",
      // named with the step of pg_restore that met it (here the first: the schema's GRANT comes with the definitions)
      message: expect.stringMatching(/pg_restore --section=pre-data,data into .*role "hrt_[0-9a-f]+_(read|owner)" does not exist/s) as string,
    });
    expect(await on(target.url, "select rolname from pg_roles where rolname = any($1)", [[role.app, role.owner, role.read]])).toEqual([]);
  });
});

describe("role settings", () => {
  it("list settings become lists again; quotes survive", () => {
    expect(splitListSetting('acct, "My ""Odd"" Schema", public')).toEqual(["acct", 'My "Odd" Schema', "public"]);
    expect(splitListSetting('"$user", public')).toEqual(["$user", "public"]);
    expect(alterRoleSetSql("a", 'search_path=acct, "x y"')).toBe(`ALTER ROLE "a" SET "search_path" TO 'acct', 'x y'`);
    expect(alterRoleSetSql("o'k", "statement_timeout=5s")).toBe(`ALTER ROLE "o'k" SET "statement_timeout" TO '5s'`);
    expect(alterRoleSetSql("a", "application_name=it's=fine")).toBe(`ALTER ROLE "a" SET "application_name" TO 'it''s=fine'`);
  });
});
