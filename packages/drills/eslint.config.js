import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "drills", dir: import.meta.dirname });
