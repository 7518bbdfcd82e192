import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "gzip", dir: import.meta.dirname });
