export { DrillError, DRILL_ERROR_CODES, type DrillErrorCode } from "./errors";
export type { DrillDeps } from "./drill-deps";
export { canonicalJson, signDrill, verifyDrill, signingKeyVersion, type Attestation, type AttestedFields } from "./attest";
export { planTenantDrills, drillCoverage, type DrillCandidate, type DrillPlan, type DrillCoverage } from "./planner";
export { drillCandidates, listDrillRecords, type DrillRecordView, type DrillRow } from "./records";
export { drillTenant, compareTables, type DrillResult, type DrillOutcome, type TableComparison } from "./tenant-drill";
export { drillDisaster } from "./disaster-drill";
export { runNightlyDrills, drillReport, type NightlyDrillReport, type DrillReport } from "./nightly";
export { openScratchDatabase, copySchema, type ScratchDatabase } from "./scratch";
