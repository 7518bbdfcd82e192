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
  /** The roles that own the database's objects (the bootstrap superuser too, by name): a restore gives objects back to them only when it can. */
  owners: string[];
  /** The old server's bootstrap superuser: never carried (every server has its own). */
  bootstrap: string;
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
  /** Cluster-wide settings, `name=value` as pg_db_role_setting keeps them. */
  config: string[];
}

const ROLE_COLUMNS = `rolname as name, rolsuper as superuser, rolinherit as inherit, rolcreaterole as "createRole", rolcreatedb as "createDb",
  rolcanlogin as login, rolreplication as replication, rolbypassrls as "bypassRls", rolconnlimit as "connectionLimit",
  to_char(rolvaliduntil at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "validUntil",
  coalesce((select setconfig from pg_db_role_setting s where s.setrole = a.oid and s.setdatabase = 0), '{}') as config`;

/** Objects below this oid come with every server (initdb's): their owner is the bootstrap superuser. */
const FIRST_NORMAL_OID = 16384;
const BOOTSTRAP_SUPERUSER_OID = 10;

/** Owners of the database's own objects (pg_dump writes `ALTER … OWNER TO` for each). */
const OWNERS = [
  ["relowner", "pg_class"],
  ["nspowner", "pg_namespace"],
  ["proowner", "pg_proc"],
  ["typowner", "pg_type"],
  ["extowner", "pg_extension"],
  ["evtowner", "pg_event_trigger"],
  ["fdwowner", "pg_foreign_data_wrapper"],
  ["srvowner", "pg_foreign_server"],
  ["lanowner", "pg_language"],
  ["pubowner", "pg_publication"],
  ["stxowner", "pg_statistic_ext"],
  ["oprowner", "pg_operator"],
  ["opcowner", "pg_opclass"],
  ["opfowner", "pg_opfamily"],
  ["cfgowner", "pg_ts_config"],
  ["dictowner", "pg_ts_dict"],
  ["collowner", "pg_collation"],
  ["conowner", "pg_conversion"],
]
  .map(([column, table]) => `select ${column} as oid from ${table} where oid >= ${FIRST_NORMAL_OID}`)
  .concat(["select lomowner from pg_largeobject_metadata"])
  .join(" union ");

/** Every other role the database's dump names: grantees of privileges, policies' roles, user mappings, roles with settings in it. */
const GRANTEES = [
  ["relacl", "pg_class"],
  ["attacl", "pg_attribute"],
  ["nspacl", "pg_namespace"],
  ["proacl", "pg_proc"],
  ["typacl", "pg_type"],
  ["lanacl", "pg_language"],
  ["fdwacl", "pg_foreign_data_wrapper"],
  ["srvacl", "pg_foreign_server"],
  ["lomacl", "pg_largeobject_metadata"],
  ["defaclacl", "pg_default_acl"],
]
  .map(([column, table]) => `select (aclexplode(${column})).grantee as oid from ${table} where ${column} is not null`)
  .concat([
    "select defaclrole from pg_default_acl",
    "select unnest(polroles) from pg_policy",
    "select umuser from pg_user_mappings", // the view: the table is for superusers only
    "select setrole from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase where d.datname = current_database()",
  ])
  .join(" union ");

interface Edge {
  role: number;
  member: number;
  admin: boolean;
  roleName: string;
  predefined: boolean;
}

/**
 * The roles the database needs on a new server: the owners of its objects and every role its dump
 * names (OWNERS, GRANTEES); then, going down, the members of those (a login role that reaches the
 * tables through a group it belongs to); then, going up, the groups of all of them (never back down
 * from a group found going up: its other members are not this database's). Predefined `pg_*` roles
 * and the bootstrap superuser are left out: every server has its own. Password hashes come with them
 * when pg_authid may be read (a superuser); without them otherwise. Reads only: safe inside the
 * backup's snapshot transaction.
 */
export async function dumpRoles(client: pg.Client | pg.PoolClient): Promise<RolesDump> {
  const q = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await client.query<T>(text, params)).rows;
  const ownerOids = (await q<{ oid: number }>(`select distinct oid::int from (${OWNERS}) o`)).map((r) => r.oid);
  const granteeOids = (await q<{ oid: number }>(`select distinct oid::int from (${GRANTEES}) g where oid <> 0`)).map((r) => r.oid); // 0: PUBLIC
  const edges = await q<Edge>(
    `select am.roleid::int as role, am.member::int as member, am.admin_option as admin, r.rolname as "roleName", r.rolname ~ '^pg_' as predefined
       from pg_auth_members am join pg_roles r on r.oid = am.roleid`,
  );
  const needed = new Set([...ownerOids, ...granteeOids]);
  const grow = (step: (e: Edge) => number | undefined) => {
    for (let grew = true; grew; ) {
      grew = false;
      for (const e of edges) {
        const next = step(e);
        if (next !== undefined && !needed.has(next)) {
          needed.add(next);
          grew = true;
        }
      }
    }
  };
  grow((e) => (needed.has(e.role) && !e.predefined ? e.member : undefined)); // down: members
  grow((e) => (needed.has(e.member) && !e.predefined ? e.role : undefined)); // up: their groups
  needed.delete(BOOTSTRAP_SUPERUSER_OID);

  const [{ passwords }] = (await q<{ passwords: boolean }>("select has_table_privilege('pg_catalog.pg_authid', 'select') as passwords")) as [
    { passwords: boolean },
  ];
  const source = passwords ? "pg_authid" : "pg_roles";
  const rows = await q<RoleDef & { oid: number }>(
    `select oid::int, ${ROLE_COLUMNS}, ${passwords ? "rolpassword" : "null"} as password from ${source} a where oid = any($1) and rolname !~ '^pg_' order by rolname`,
    [[...needed]],
  );
  const names = new Map(rows.map((r) => [r.oid, r.name]));
  const nameOf = await q<{ oid: number; name: string }>("select oid::int, rolname as name from pg_roles where oid = any($1)", [
    [...ownerOids, BOOTSTRAP_SUPERUSER_OID],
  ]);
  const byOid = new Map(nameOf.map((r) => [r.oid, r.name]));
  // among the needed roles, and of needed roles in predefined ones (`GRANT pg_read_all_data TO app`)
  const memberships = edges
    .filter((e) => names.has(e.member) && (names.has(e.role) || e.predefined))
    .map((e) => ({ role: e.roleName, member: names.get(e.member)!, admin: e.admin }))
    .sort((a, b) => a.role.localeCompare(b.role) || a.member.localeCompare(b.member));
  return {
    passwords,
    roles: rows.map(({ oid: _oid, ...r }) => r),
    memberships,
    owners: ownerOids
      .map((o) => byOid.get(o))
      .filter((n): n is string => n !== undefined)
      .sort(),
    bootstrap: byOid.get(BOOTSTRAP_SUPERUSER_OID) ?? "postgres",
  };
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

/** Settings whose value is a list: pg_db_role_setting keeps them flattened (`search_path=app, "My Schema"`). */
const LIST_SETTINGS = new Set([
  "search_path",
  "temp_tablespaces",
  "local_preload_libraries",
  "session_preload_libraries",
  "shared_preload_libraries",
  "unix_socket_directories",
]);

/** The elements of a flattened list setting: comma separated, each possibly double-quoted (`""` inside). */
export function splitListSetting(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === " ") i++;
    let item = "";
    if (value[i] === '"') {
      i++;
      while (i < value.length && !(value[i] === '"' && value[i + 1] !== '"')) {
        item += value[i];
        i += value[i] === '"' ? 2 : 1;
      }
      i++; // the closing quote
    } else {
      while (i < value.length && value[i] !== ",") item += value[i++];
      item = item.trimEnd();
    }
    out.push(item);
    while (i < value.length && value[i] !== ",") i++;
    i++; // the comma
  }
  return out;
}

/** `ALTER ROLE … SET` for one `name=value` of pg_db_role_setting (a list setting as a list of literals, as pg_dump writes it). */
export function alterRoleSetSql(role: string, setting: string): string | undefined {
  const eq = setting.indexOf("=");
  if (eq <= 0) return undefined;
  const name = setting.slice(0, eq);
  const value = setting.slice(eq + 1);
  const rendered = LIST_SETTINGS.has(name.toLowerCase()) ? splitListSetting(value).map(literal).join(", ") : literal(value);
  return `ALTER ROLE ${ident(role)} SET ${ident(name)} TO ${rendered}`;
}

export interface RolesReport {
  /** Roles this restore created (with their attributes, settings and memberships). */
  created: string[];
  /** Roles the target server had already: left exactly as they were. */
  existing: string[];
  /** Whether the created roles got their password hashes (false: set them with ALTER ROLE … PASSWORD). */
  passwords: boolean;
  /**
   * Whether objects get their owners back: only when every owner exists on the server and the
   * restorer may act as it (a superuser, or a member). Otherwise the restorer owns them, and
   * `unavailableOwners` says which owners were the reason (the old bootstrap superuser, say).
   */
  owners: boolean;
  unavailableOwners: string[];
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
          const sql = alterRoleSetSql(r.name, setting);
          if (sql) await client.query(sql);
        }
      }
      // memberships that involve a role created here (an existing role's own memberships are the server's),
      // between roles the server now has (a predefined one of a newer server may be missing on an older)
      const grants = dump.memberships.filter((m) => created.has(m.role) || created.has(m.member));
      const named = [...new Set(grants.flatMap((m) => [m.role, m.member]))];
      const present = new Set(
        (await client.query<{ name: string }>("select rolname as name from pg_roles where rolname = any($1)", [named])).rows.map((r) => r.name),
      );
      for (const m of grants.filter((g) => present.has(g.role) && present.has(g.member))) {
        current = `${m.member} (member of ${m.role})`;
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
    const owners = await client.query<{ name: string; ok: boolean }>(
      `select o as name, case when r.oid is null then false else coalesce((select rolsuper from pg_roles where rolname = current_user), false) or pg_has_role(current_user, r.oid, 'MEMBER') end as ok
         from unnest($1::text[]) o left join pg_roles r on r.rolname = o`,
      [dump.owners],
    );
    const unavailableOwners = owners.rows.filter((o) => !o.ok).map((o) => o.name);
    return {
      created: [...created].sort(),
      existing: [...existing].sort(),
      passwords: dump.passwords,
      owners: unavailableOwners.length === 0,
      unavailableOwners,
    };
  } finally {
    await client.end().catch(() => {});
  }
}
