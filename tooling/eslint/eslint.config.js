import { packageConfig } from "./index.js";

export default packageConfig();
