import { loadEnv } from "./env";
import { startGateway } from "./gateway";

const gateway = await startGateway(loadEnv());
process.stdout.write(`gateway listening on ${gateway.address} (admin: ${gateway.address}/admin/, tenant: ${gateway.address}/app/)\n`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void gateway.stop();
  });
}
