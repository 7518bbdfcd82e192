export { storeArtifact, type StoreArtifactOptions, type StoredArtifact } from "./store";
export { decryptArtifact, stageArtifact, verifyStaged, openStaged, type ArtifactRef, type StagedArtifact } from "./open";
export { ArtifactsError, ARTIFACTS_ERROR_CODES, type ArtifactsErrorCode } from "./errors";
