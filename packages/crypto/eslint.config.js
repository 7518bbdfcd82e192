import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "crypto", dir: import.meta.dirname });
