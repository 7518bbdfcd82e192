export { storeArtifact, type StoreArtifactOptions, type StoredArtifact } from "./store";
export { decryptArtifact, stageArtifact, verifyStaged, openStaged, type ArtifactRef, type StagedArtifact } from "./read-path";
