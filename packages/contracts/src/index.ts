export * from "./ids";
export * from "./common";
export * from "./messages";
export * from "./subjects";
export * from "./parse";
export * from "./ports";
export * from "./settings";
