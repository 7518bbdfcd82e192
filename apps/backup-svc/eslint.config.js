import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "backup-svc", dir: import.meta.dirname });
