export { Reader } from "./reader.ts";
export { Writer } from "./writer.ts";
export * from "./bytes.ts";
export * from "./base64.ts";
