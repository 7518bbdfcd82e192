import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "api" });
