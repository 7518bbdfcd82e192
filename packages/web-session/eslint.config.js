import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "web-session", dir: import.meta.dirname });
