import { HesaabError } from "@hesaab/config";

/**
 * The codes of this package (it raises storage's codes too): `artifact_plaintext_mismatch` (an artifact
 * decrypts to other bytes than the catalog recorded), `artifact_codec_unavailable` (its plaintext is
 * compressed with a codec this process lacks: zstd without libzstd on Node < 22.15),
 * `artifact_content_corrupt` (it decrypts, but its compressed plaintext does not decode).
 */
export const ARTIFACTS_ERROR_CODES = ["artifact_plaintext_mismatch", "artifact_codec_unavailable", "artifact_content_corrupt"] as const;
export type ArtifactsErrorCode = (typeof ARTIFACTS_ERROR_CODES)[number];

export class ArtifactsError extends HesaabError<ArtifactsErrorCode> {}
