import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "tenant-web", dir: import.meta.dirname, spa: true });
