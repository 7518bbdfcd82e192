import { loadEnv } from "./env";
import { startStorageService } from "./service";

const service = await startStorageService(loadEnv());
service.observability.log.info("storage-svc running", { health: service.health.url });
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void service.stop().then(() => process.exit(0));
  });
}
