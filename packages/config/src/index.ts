export { Secret, redactUrl } from "./secret";
export { HesaabError, isHesaabError, errorText, queryErrorCause } from "./errors";
export { envPieces, parseEnv, catalogUrl, secretString, masterKeySet, columnExclusions, type MasterKeySet } from "./env";
