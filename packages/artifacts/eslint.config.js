import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "artifacts", dir: import.meta.dirname });
