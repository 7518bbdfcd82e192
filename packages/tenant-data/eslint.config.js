import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "tenant-data", dir: import.meta.dirname });
