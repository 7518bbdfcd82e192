import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "admin-web", dir: import.meta.dirname, spa: true });
