import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "observability", dir: import.meta.dirname });
