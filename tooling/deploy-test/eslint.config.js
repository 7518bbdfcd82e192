import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ dir: import.meta.dirname });
