import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "tenant-backup", dir: import.meta.dirname });
