import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "session", dir: import.meta.dirname });
