import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "cli", dir: import.meta.dirname });
