import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "tenant-web", spa: true });
