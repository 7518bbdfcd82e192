export type { KeyRings, StorageOpsDeps } from "./storage-ops-deps";
export { StorageOpsError, STORAGE_OPS_ERROR_CODES, type StorageOpsErrorCode } from "./errors";
export { recordParts, recordKey, recordBytes, isGood, GOOD_STATUSES, type ArtifactPartRef } from "./parts";
export { insertVerification, loadRecord } from "./catalog";
export { listInventory, LAYOUT_PREFIXES, type Inventory, type Listed } from "./inventory";
export { healSidecars, type SidecarOutcome, type SidecarState } from "./sidecars";
export {
  replicateArtifact,
  type ReplicateOptions,
  type ReplicateResult,
  type ProviderReplica,
  type PartReplica,
  type CopyFound,
  type CopyState,
} from "./replicate";
export {
  verifyBackup,
  deepVerifySample,
  deepSkipReason,
  artifactRefFor,
  type VerifyBackupOptions,
  type VerifyBackupResult,
  type DeepCheck,
  type DeepSampleOptions,
  type DeepSampleReport,
} from "./verify";
export { reconcile, type ReconcileOptions, type ReconcileReport, type InventoryIssue } from "./reconcile";
export {
  applyRetention,
  planRetention,
  deleteBackup,
  platformTenants,
  retentionRulesFromEnv,
  retentionRulesInForce,
  handleRetentionRequested,
  type RetentionEnv,
  type RetentionOptions,
  type RetentionReport,
  type RetentionRule,
  type RetentionRules,
  type RetentionItem,
  type KeepReason,
} from "./retention";
export { storageAnalytics, takeStorageSample, pricesFromSettings, type StorageAnalytics, type StorageAnalyticsOptions, type UsageRow } from "./analytics";
export {
  DEFAULT_PRICES,
  mergePrices,
  monthlyCost,
  GB,
  type Prices,
  type ProviderPrices,
  type PriceOverrides,
  type MonthlyUsage,
  type CostBreakdown,
} from "./prices";
export { rebuildCatalog, type RebuildOptions, type RebuildReport, type RebuiltRecord } from "./rebuild";
export { handleArtifactStored, handleReplicateRequested, handleVerifyRequested, verifyAll, type VerifyDeps } from "./handlers";
export { openStorageOps, type StorageOpsEnv, type OpenedStorageOps } from "./open-storage-ops";
export { drainSpool, type DrainReport } from "./spool-drain";
export { alertChannels, alertChannelsView, type AlertChannels, type AlertChannelEnv, type AlertChannelView } from "./alerting/channels";
export { AlertDeliverer, signWebhookBody, SIGNATURE_HEADER, type AlertDelivererOptions, type DeliveryReport } from "./alerting/delivery";
export { evaluateAlertRules, checkStorageBudget, newAlertRuleState, type AlertThresholds, type AlertRuleState, type RulesOutcome } from "./alerting/rules";
export { startAlerting, type Alerting, type AlertingEnv, type AlertingOptions } from "./alerting/runner";
export { dailySummary } from "./alerting/summary";
