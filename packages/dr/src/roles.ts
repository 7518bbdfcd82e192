import type pg from "pg";
import { redactUrl } from "@hesaab/config";
import { DrError } from "./errors";
import { connect } from "./pg-tools";

/**
 * The cluster's roles, which a database dump does not carry (pg_dump writes GRANTs to roles, not the
 * roles): what a rebuild on a new server must create before pg_restore can apply those GRANTs.
 * Carried in the encrypted configuration bundle, never in a sidecar: password hashes are secrets.
 */
export interface RolesDump {
  /** Whether `password` holds each role's hash (reading pg_authid needs a superuser). */
  passwords: boolean;
  roles: RoleDef[];
  memberships: { role: string; member: string; admin: boolean }[];
}

export interface RoleDef {
  name: string;
  superuser: boolean;
  inherit: boolean;
  createRole: boolean;
  createDb: boolean;
  login: boolean;
  replication: boolean;
  bypassRls: boolean;
  connectionLimit: number;
  validUntil: string | null;
  /** The stored hash (SCRAM or md5), null when it has none or it could not be read. */
  password: string | null;
  /** Cluster-wide settings, `name=value`. */
  config: string[];
}

const ROLE_COLUMNS = `rolname as name, rolsuper as superuser, rolinherit as inherit, rolcreaterole as "createRole", rolcreatedb as "createDb",
  rolcanlogin as login, rolreplication as replication, rolbypassrls as "bypassRls", rolconnlimit as "connectionLimit",
  to_char(rolvaliduntil at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "validUntil", coalesce((select setconfig from pg_db_role_setting s where s.setrole = a.oid and s.setdatabase = 0), '{}') as config`;

/**
 * The roles this database refers to: its owner, the owners of its schemas, relations, functions and
 * types, every grantee of their privileges (and of default privileges), roles with settings in it.
 */
const REFERENCED_ROLES = `
  select datdba as oid from pg_database where datname = current_database()
  union select relowner from pg_class
  union select nspowner from pg_namespace
  union select proowner from pg_proc
  union select typowner from pg_type
  union select defaclrole from pg_default_acl
  union select (aclexplode(relacl)).grantee from pg_class where relacl is not null
  union select (aclexplode(attacl)).grantee from pg_attribute where attacl is not null
  union select (aclexplode(nspacl)).grantee from pg_namespace where nspacl is not null
  union select (aclexplode(proacl)).grantee from pg_proc where proacl is not null
  union select (aclexplode(typacl)).grantee from pg_type where typacl is not null
  union select (aclexplode(defaclacl)).grantee from pg_default_acl
  union select (aclexplode(datacl)).grantee from pg_database where datname = current_database() and datacl is not null
  union select setrole from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase where d.datname = current_database()`;

/**
 * The roles the database needs on a new server: those it refers to (see REFERENCED_ROLES), closed
 * over memberships both ways (a login role that reaches its tables through a group role it belongs
 * to, the groups a needed role belongs to); predefined `pg_*` roles left out, since every server has
 * them. With their password hashes when readable (a superuser), their memberships among themselves.
 * Other databases' roles on the same server are not taken.
 */
export async function dumpRoles(client: pg.Client | pg.PoolClient): Promise<RolesDump> {
  const referenced = (await client.query<{ oid: number }>(`select distinct oid::int from (${REFERENCED_ROLES}) r where oid <> 0`)).rows.map((r) => r.oid); // 0: PUBLIC
  const edges = (
    await client.query<{ role: number; member: number; admin: boolean; roleName: string; predefined: boolean }>(
      `select am.roleid::int as role, am.member::int as member, am.admin_option as admin, r.rolname as "roleName", r.rolname ~ '^pg_' as predefined
         from pg_auth_members am join pg_roles r on r.oid = am.roleid`,
    )
  ).rows;
  const needed = new Set(referenced);
  for (let grew = true; grew; ) {
    grew = false;
    // never through a predefined role: its other members are not this database's
    for (const e of edges.filter((x) => !x.predefined)) {
      if (needed.has(e.role) !== needed.has(e.member)) {
        needed.add(e.role);
        needed.add(e.member);
        grew = true;
      }
    }
  }
  const oids = [...needed];
  let passwords = true;
  let rows: (RoleDef & { oid: number })[];
  const select = (source: string, password: string) => `select oid::int, ${ROLE_COLUMNS}, ${password} as password from ${source} a where oid = any($1) and rolname !~ '^pg_' order by rolname`;
  try {
    rows = (await client.query<RoleDef & { oid: number }>(select("pg_authid", "rolpassword"), [oids])).rows;
  } catch (err) {
    if ((err as { code?: string }).code !== "42501") throw err; // not a superuser: the roles without their hashes
    passwords = false;
    rows = (await client.query<RoleDef & { oid: number }>(select("pg_roles", "null"), [oids])).rows;
  }
  const names = new Map(rows.map((r) => [r.oid, r.name]));
  // among the needed roles, and of needed roles in predefined ones (`GRANT pg_read_all_data TO app`)
  const memberships = edges
    .filter((e) => names.has(e.member) && (names.has(e.role) || e.predefined))
    .map((e) => ({ role: e.roleName, member: names.get(e.member)!, admin: e.admin }))
    .sort((a, b) => a.role.localeCompare(b.role) || a.member.localeCompare(b.member));
  return { passwords, roles: rows.map(({ oid: _oid, ...r }) => r), memberships };
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** `CREATE ROLE` with every attribute of `r` (and its hash as is: PostgreSQL stores a SCRAM or md5 hash verbatim). */
export function createRoleSql(r: RoleDef): string {
  const flag = (on: boolean, name: string) => (on ? name : `NO${name}`);
  const parts = [
    flag(r.superuser, "SUPERUSER"),
    flag(r.inherit, "INHERIT"),
    flag(r.createRole, "CREATEROLE"),
    flag(r.createDb, "CREATEDB"),
    flag(r.login, "LOGIN"),
    flag(r.replication, "REPLICATION"),
    flag(r.bypassRls, "BYPASSRLS"),
    `CONNECTION LIMIT ${Math.trunc(r.connectionLimit)}`,
    ...(r.password ? [`PASSWORD ${literal(r.password)}`] : []),
    ...(r.validUntil ? [`VALID UNTIL ${literal(r.validUntil)}`] : []),
  ];
  return `CREATE ROLE ${ident(r.name)} WITH ${parts.join(" ")}`;
}

export interface RolesReport {
  /** Roles this restore created (with their attributes, settings and memberships). */
  created: string[];
  /** Roles the target server had already: left exactly as they were. */
  existing: string[];
  /** Whether the created roles got their password hashes (false: set them with ALTER ROLE … PASSWORD). */
  passwords: boolean;
}

/**
 * Creates on the target server the roles of `dump` it lacks, then their settings and memberships.
 * Roles it has are never changed (their passwords, attributes and memberships stay the server's).
 * One transaction: a role that cannot be created (not a superuser, say) creates none.
 */
export async function createMissingRoles({ targetUrl, dump }: { targetUrl: string; dump: RolesDump }): Promise<RolesReport> {
  const u = new URL(targetUrl);
  u.pathname = "/postgres";
  const client = await connect(u.toString());
  try {
    const { rows } = await client.query<{ name: string }>("select rolname as name from pg_roles where rolname = any($1)", [dump.roles.map((r) => r.name)]);
    const existing = new Set(rows.map((r) => r.name));
    const missing = dump.roles.filter((r) => !existing.has(r.name));
    const created = new Set(missing.map((r) => r.name));
    let current = "";
    try {
      await client.query("begin");
      for (const r of missing) {
        current = r.name;
        await client.query(createRoleSql(r));
        for (const setting of r.config) {
          const eq = setting.indexOf("=");
          if (eq > 0) await client.query(`ALTER ROLE ${ident(r.name)} SET ${ident(setting.slice(0, eq))} TO ${literal(setting.slice(eq + 1))}`);
        }
      }
      // memberships that involve a role created here (an existing role's own memberships are the server's)
      for (const m of dump.memberships) {
        if (!created.has(m.role) && !created.has(m.member)) continue;
        current = `${m.member} (member of ${m.role})`;
        const both = await client.query("select 1 from pg_roles where rolname = $1 or rolname = $2", [m.role, m.member]);
        if (both.rowCount !== 2) continue;
        await client.query(`GRANT ${ident(m.role)} TO ${ident(m.member)}${m.admin ? " WITH ADMIN OPTION" : ""}`);
      }
      await client.query("commit");
    } catch (err) {
      await client.query("rollback").catch(() => {});
      throw new DrError({
        code: "dr_roles_failed",
        message: `cannot create role ${current} on ${redactUrl(targetUrl)}: ${(err as Error).message}`,
        hint: "Restore as a superuser (roles are the server's), or create the roles yourself and pass --skip-roles",
        cause: err,
      });
    }
    return { created: [...created].sort(), existing: [...existing].sort(), passwords: dump.passwords };
  } finally {
    await client.end().catch(() => {});
  }
}
