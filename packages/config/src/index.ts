export { Secret, redactUrl } from "./secret";
export {
  HesaabError,
  isHesaabError,
  errorText,
  queryErrorCause,
  describeError,
  isTransientError,
  isTransientSqlState,
  isRedeliverable,
  ConfigError,
  CONFIG_ERROR_CODES,
  ERROR_HTTP_STATUS,
  type ConfigErrorCode,
  type ErrorDescription,
  type ErrorMeaning,
  type HesaabErrorOptions,
} from "./errors";
export { envPieces, parseEnv, catalogUrl, spoolDir, secretString, masterKeySet, columnExclusions, type MasterKeySet } from "./env";
