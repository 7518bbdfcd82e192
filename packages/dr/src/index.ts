export { DrError, type DrErrorCode } from "./errors";
export { dumpDatabase, restoreDump, connect, userObjects, type DumpOptions, type RestoreOptions } from "./pg-tools";
export { countRows, listTables, serverFacts, compareWithManifest, parseManifest, type DrManifest, type ManifestComparison } from "./manifest";
export { buildConfigBundle, writeConfigBundle, type ConfigBundle } from "./config-bundle";
