/** The names role (SMP v20 RSLV → RNAME): what the server and the CLI use. */
export { type NamesConfig, type ResolverAuth, NAMES_DEFAULTS, describeNamesConfig } from "./config.ts";
export { parseResolverAuth, validateResolverUrl } from "./endpoint.ts";
export { NamesStats } from "./stats.ts";
export {
  type NamesReply,
  type NamesService,
  NamesStartupError,
  createNamesService,
  noResolverReply,
} from "./service.ts";
