import { catalogUrl } from "@hesaab/config";
import { openCatalog } from "@hesaab/db";
import { loadEnv } from "./env";
import { buildServer } from "./server";

const env = loadEnv();
const catalog = openCatalog({ url: catalogUrl(env) });
const app = await buildServer({ db: catalog.db });
const address = await app.listen({ host: env.GATEWAY_HOST, port: env.GATEWAY_PORT });
process.stdout.write(`gateway listening on ${address} (admin: ${address}/admin/, tenant: ${address}/app/)\n`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void app.close().then(() => catalog.close());
  });
}
