/** Product version (package.json, embedded at build time) and the SMP versions this server speaks. */
import pkg from "../../package.json";
import { supportedServerSMPRelayVRange } from "../protocol/versions.ts";

export const PRODUCT_VERSION: string = pkg.version;

/** First line of `--version` and of `start`/`init` output (the reference prints `SMP server v<version> / <commit>`). */
export const SERVER_VERSION_LINE = `SMP server v${PRODUCT_VERSION}`;

export const SMP_VERSIONS_LINE = `SMP versions ${supportedServerSMPRelayVRange.min}-${supportedServerSMPRelayVRange.max}`;
