export { putEverywhere, SHA256_METADATA, type PutEverywhereOptions, type PutEverywhereResult, type ProviderOutcome } from "./put-everywhere";
export {
  readWithFailover,
  type ReadWithFailoverOptions,
  type FailoverRead,
  type FailoverReport,
  type FailoverFailure,
  type FailoverStage,
} from "./read-failover";
export { verifyObject, type VerifyObjectOptions, type VerifyResult, type VerifyProblem } from "./verify";
