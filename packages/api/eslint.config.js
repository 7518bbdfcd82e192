import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "api", dir: import.meta.dirname });
