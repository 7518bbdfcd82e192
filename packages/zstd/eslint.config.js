import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "zstd", dir: import.meta.dirname });
