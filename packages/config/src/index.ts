export { Secret, redactUrl } from "./secret";
export { HesaabError, isHesaabError, errorText } from "./errors";
export { envPieces, parseEnv, catalogUrl, secretString, masterKeySet, columnExclusions, type MasterKeySet } from "./env";
