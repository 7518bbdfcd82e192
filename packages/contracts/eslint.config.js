import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "contracts", dir: import.meta.dirname });
