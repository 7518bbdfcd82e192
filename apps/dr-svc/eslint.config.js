import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "dr-svc", dir: import.meta.dirname });
