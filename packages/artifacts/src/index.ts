export { storeArtifact, type StoreArtifactOptions, type StoredArtifact } from "./store";
export { decryptArtifact, stageArtifact, verifyStaged, openStaged, type ArtifactRef, type StagedArtifact } from "./read-path";
export { ArtifactsError, ARTIFACTS_ERROR_CODES, type ArtifactsErrorCode } from "./errors";
