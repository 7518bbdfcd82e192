export { ensureStack, readStackEnv, stopStack, type StackOptions, type StackStatus } from "./stack";
export { findRepoRoot, repoRoot, stackDir } from "./paths";
export { tcpAnswers, s3Answers, waitFor } from "./probe";
export { StackError, STACK_ERROR_CODES, type StackErrorCode } from "./errors";
export { startS3Endpoint, type S3Endpoint } from "./s3-endpoint";
