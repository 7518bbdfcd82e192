import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "db", dir: import.meta.dirname });
