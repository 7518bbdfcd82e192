import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "bus", dir: import.meta.dirname });
