// The API's tRPC router. The gateway mounts it; only its *type* crosses to the SPAs
// (`import type { AppRouter } from "@hesaab/api"`).
import { adminRouter } from "./routers/admin";
import { alertsRouter } from "./routers/alerts";
import { auditRouter } from "./routers/audit";
import { backupsRouter } from "./routers/backups";
import { drRouter } from "./routers/dr";
import { drillsRouter } from "./routers/drills";
import { keysRouter } from "./routers/keys";
import { restoresRouter } from "./routers/restores";
import { retentionRouter } from "./routers/retention";
import { settingsRouter } from "./routers/settings";
import { progressRouter } from "./routers/progress";
import { storageRouter } from "./routers/storage";
import { tenantRouter } from "./routers/tenant";
import { tenantsRouter } from "./routers/tenants";
import { verificationRouter } from "./routers/verification";
import { procedure, router } from "./trpc";

export const appRouter = router({
  health: procedure.query(() => ({ ok: true as const, at: new Date().toISOString() })),
  admin: adminRouter,
  backups: backupsRouter,
  storage: storageRouter,
  alerts: alertsRouter,
  audit: auditRouter,
  tenant: tenantRouter,
  tenants: tenantsRouter,
  verification: verificationRouter,
  retention: retentionRouter,
  keys: keysRouter,
  settings: settingsRouter,
  progress: progressRouter,
  restores: restoresRouter,
  dr: drRouter,
  drills: drillsRouter,
});

export type AppRouter = typeof appRouter;
