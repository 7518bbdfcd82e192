export { appRouter, type AppRouter } from "./router";
export type { Context, SendCommand, TenantRefusalView } from "./trpc";
export type { BackupRequestAnswer } from "./routers/backups";
export { DEFAULT_EXPORT_ROLES } from "./routers/tenant";
export { followOperation, OPERATION_KINDS, PROGRESS_TYPES, type OperationKind, type ProgressView, type ReadEvents } from "./progress";
export { storageView, type StorageView } from "./storage-view";
export type { CustomerExportView as ExportView } from "@hesaab/tenant-backup";
export { API_ERROR_CODES, ApiError, ERROR_MEANING, errorMeaning, trpcCodeOf, type ApiErrorCode } from "./errors";
export { openApiDocument } from "./openapi";
export {
  apiErrorSchema,
  ERROR_BODY_CODES,
  errorBodyOf,
  hesaabErrorBody,
  REQUEST_ERROR_CODES,
  requestError,
  restStatusOf,
  type ApiErrorBody,
  type ErrorBodyCode,
  type RequestErrorCode,
} from "./errors";
