import { loadEnv } from "./env";
import { startStorageService } from "./service";

const service = await startStorageService(loadEnv());
process.stdout.write("storage-svc running\n");
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void service.stop().then(() => process.exit(0));
  });
}
