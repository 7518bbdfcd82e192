import { loadEnv } from "./env";
import { startBackupService } from "./service";

const service = await startBackupService(loadEnv());
process.stdout.write("backup-svc running\n");
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void service.stop().then(() => process.exit(0));
  });
}
