// The API's tRPC router. The gateway mounts it; only its *type* crosses to the SPAs
// (`import type { AppRouter } from "@hesaab/api"`).
import { adminRouter } from "./routers/admin";
import { alertsRouter } from "./routers/alerts";
import { auditRouter } from "./routers/audit";
import { backupsRouter } from "./routers/backups";
import { progressRouter } from "./routers/progress";
import { storageRouter } from "./routers/storage";
import { tenantRouter } from "./routers/tenant";
import { procedure, router } from "./trpc";

export const appRouter = router({
  health: procedure.query(() => ({ ok: true as const, at: new Date().toISOString() })),
  admin: adminRouter,
  backups: backupsRouter,
  storage: storageRouter,
  alerts: alertsRouter,
  audit: auditRouter,
  tenant: tenantRouter,
  progress: progressRouter,
});

export type AppRouter = typeof appRouter;
