import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "gateway", dir: import.meta.dirname });
