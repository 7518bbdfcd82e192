import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "config", dir: import.meta.dirname });
