// The load shape's command-line options with their defaults, shared by bench/run.ts and
// bench/nodes.ts so that the two measure the same load unless told otherwise.
import { numberArg } from "./args.ts";

export const SECONDS = numberArg("seconds", 10);
export const WARMUP = numberArg("warmup", 3);
/** Load worker processes (the pairs are split among them). */
export const CLIENTS = numberArg("clients", 1);
export const PAIRS = numberArg("pairs", 4);
export const QUEUES = numberArg("queues", 8);
export const WINDOW = numberArg("window", 2);
/** SimpleX agents pad every message to the v20 maximum. */
export const BODY = numberArg("body", 16048);
