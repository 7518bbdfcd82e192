import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "dr", dir: import.meta.dirname });
