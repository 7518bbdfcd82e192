import { loadEnv } from "./env";
import { startBackupService } from "./service";

const service = await startBackupService(loadEnv());
service.observability.log.info("backup-svc running", { health: service.health.url });
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void service.stop().then(() => process.exit(0));
  });
}
