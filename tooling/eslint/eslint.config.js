import { packageConfig } from "./index.js";

export default packageConfig({ dir: import.meta.dirname });
