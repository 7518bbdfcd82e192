import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "native", dir: import.meta.dirname });
