import { HesaabError } from "@hesaab/config";

/** The codes of this package (it raises storage's codes too): `artifact_plaintext_mismatch` (an artifact decrypts to other bytes than the catalog recorded). */
export const ARTIFACTS_ERROR_CODES = ["artifact_plaintext_mismatch"] as const;
export type ArtifactsErrorCode = (typeof ARTIFACTS_ERROR_CODES)[number];

export class ArtifactsError extends HesaabError<ArtifactsErrorCode> {}
