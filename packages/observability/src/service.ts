import type { Logger } from "pino";
import type { Log } from "@hesaab/contracts";
import { startHealthServer, type HealthServer } from "./http";
import { asLog, createLogger, type LoggerFactoryOptions } from "./logger";
import { ServiceMetrics } from "./metrics";
import type { ReadinessCheck } from "./readiness";

/** What a service holds for its logs, metrics and health port. */
export interface ServiceObservability {
  readonly logger: Logger;
  /** The `Log` port over `logger`, for the bus and the capabilities. */
  readonly log: Log;
  readonly metrics: ServiceMetrics;
  /** Opens the health port once the dependencies its checks probe exist. */
  serve(opts: { host: string; port: number; checks: ReadinessCheck[] }): Promise<HealthServer>;
  /** Closes the port (if open) and stops listening to storage operations. */
  close(): Promise<void>;
}

/**
 * The first thing a service makes: its logger (named after it), its metrics (storage requests of
 * every backend the process opens are counted from here on), and later its health port.
 */
export function startServiceObservability(opts: LoggerFactoryOptions & { logger?: Logger }): ServiceObservability {
  const logger = opts.logger ?? createLogger(opts);
  const log = asLog(logger);
  const metrics = new ServiceMetrics({ service: opts.service });
  const stopStorage = metrics.observeStorage();
  let server: HealthServer | undefined;
  return {
    logger,
    log,
    metrics,
    async serve({ host, port, checks }) {
      server = await startHealthServer({ service: opts.service, host, port, metrics, checks, log });
      return server;
    },
    async close() {
      stopStorage();
      await server?.close();
    },
  };
}
