export type {
  StorageBackend,
  PutBody,
  PutOptions,
  PutResult,
  GetOptions,
  ByteRange,
  ObjectInfo,
  ListEntry,
  ListOptions,
  OpOptions,
  StorageOp,
} from "./backend";
export { STORAGE_OPS } from "./backend";
export { StorageError, STORAGE_ERROR_CODES, isStorageError, isPermanent, type StorageErrorCode } from "./errors";
export { compareKeys } from "./key-order";
export { readAll } from "./streams";

export { s3Backend, S3_DEFAULT_PART_SIZE, type S3BackendConfig } from "./backends/s3";
export { UploadEtags, etagProvesCopy } from "./backends/s3/etag";
export { fsBackend, type FsBackendConfig } from "./backends/fs";

export { withRetry, type RetryOptions, type RetryInfo } from "./decorators/retry";
export { withLimit, type LimitOptions } from "./decorators/limit";
export { Semaphore } from "./decorators/limit/semaphore";
export {
  withMetrics,
  observeStorageOps,
  type MeteredBackend,
  type MetricsOptions,
  type StorageMetrics,
  type StorageOpEvent,
  type OpCounters,
} from "./decorators/metrics";
export { withKeyPrefix } from "./decorators/prefix";
export { withFaults, FaultController, type FaultyBackend, type FaultOp, type FaultCall } from "./decorators/fault";

export {
  openBackend,
  providersFromEnv,
  type BackendConfig,
  type OpenBackendOptions,
  type OpenedBackend,
  type ProviderEnv,
  type ProviderName,
} from "./open-backend";

export * from "./replicated";
export {
  tenantBackupKey,
  disasterBackupKey,
  sidecarKey,
  keysSidecarKey,
  metaSidecarKey,
  tenantPrefix,
  parseObjectKey,
  encodeMetaSidecar,
  parseMetaSidecar,
  metaMetadata,
  parseMetaMetadata,
  META_METADATA,
  groupArtifacts,
  TENANTS_PREFIX,
  DISASTER_PREFIX,
  type BackupType,
  type ArtifactPart,
  type SidecarKind,
  type ParsedKey,
  type ManifestSummary,
  type MetaSidecar,
  type MetaSidecarInput,
  type ListedArtifact,
} from "./layout";
export { readMetaSidecar, readSidecarBytes, checksumFromMetaSidecar, putKeysSidecar, rewriteKeysSidecar } from "./sidecar-io";
export { openSpool, type LocalSpool, type SpoolEntry } from "./spool";
