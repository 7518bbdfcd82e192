import { loadEnv } from "./env";
import { startGateway } from "./gateway";

const gateway = await startGateway(loadEnv());
process.stdout.write(`gateway listening on ${gateway.address} (admin: ${gateway.address}/admin/, tenant: ${gateway.address}/app/)\n`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    // stop() is bounded (GATEWAY_SHUTDOWN_GRACE_MS): the process exits after it, 1 when it had to cut something short
    gateway.stop().then(
      ({ forced }) => process.exit(forced ? 1 : 0),
      (err: unknown) => {
        process.stderr.write(`gateway stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  });
}
