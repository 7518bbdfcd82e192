import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "stack", dir: import.meta.dirname });
