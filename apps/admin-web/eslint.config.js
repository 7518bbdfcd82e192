import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "admin-web", spa: true });
