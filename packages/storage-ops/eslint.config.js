import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "storage-ops", dir: import.meta.dirname });
