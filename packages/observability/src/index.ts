export { createLogger, asLog, silentLog, loggerOptions, prettyLine, prettyStream, REDACT_PATHS, type LoggerFactoryOptions } from "./logger";
export { ServiceMetrics, SIZE_BUCKETS, sizeBucket, type ProviderUsage } from "./metrics";
export {
  checkReadiness,
  natsCheck,
  postgresCheck,
  providerCheck,
  providerChecksFromEnv,
  type ReadinessCheck,
  type ReadinessReport,
  type ReadinessStatus,
} from "./readiness";
export { gaugedReadiness, startHealthServer, type HealthServer, type HealthServerOptions } from "./http";
export { startServiceObservability, type ServiceObservability } from "./service";
