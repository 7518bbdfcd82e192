import { packageConfig } from "@hesaab/eslint-config";

export default packageConfig({ name: "platform", dir: import.meta.dirname });
