export * from "./schema";
export { openCatalog, migrate, MIGRATIONS_DIR, type Catalog, type CatalogDb } from "./client";
export { writeAudit, type AuditEntry } from "./audit";
