import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "storage", dir: import.meta.dirname });
