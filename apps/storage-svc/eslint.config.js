import { appConfig } from "@hesaab/eslint-config";

export default appConfig({ name: "storage-svc", dir: import.meta.dirname });
