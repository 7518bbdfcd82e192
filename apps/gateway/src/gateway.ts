import { catalogUrl } from "@hesaab/config";
import { connectBus } from "@hesaab/bus";
import { openCatalog } from "@hesaab/db";
import type { GatewayEnv } from "./env";
import { buildServer } from "./server";

export interface RunningGateway {
  /** `http://host:port` it listens on. */
  address: string;
  stop(): Promise<void>;
}

/**
 * The gateway: the catalog for queries, the bus for commands (a backup request becomes
 * `backup.tenant.requested.v1` on the work queue), the HTTP surface from `buildServer`.
 */
export async function startGateway(env: GatewayEnv): Promise<RunningGateway> {
  const catalog = openCatalog({ url: catalogUrl(env) });
  const bus = await connectBus({ url: env.NATS_URL, name: "gateway", prefix: env.HESAAB_BUS_PREFIX }).catch(async (err: unknown) => {
    await catalog.close();
    throw err;
  });
  await bus.ensureStreams();
  const app = await buildServer({
    db: catalog.db,
    requestBackup: async ({ tenantIds, requestedBy }) => {
      await bus.publish("backup.tenant.requested.v1", { tenantIds, purpose: "on_demand", requestedBy });
    },
  });
  const address = await app.listen({ host: env.GATEWAY_HOST, port: env.GATEWAY_PORT });
  return {
    address,
    async stop() {
      await app.close();
      await bus.drain();
      await catalog.close();
    },
  };
}
