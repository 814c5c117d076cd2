/** The GHC runtime's command-line rule (`+RTS … -RTS`, `--RTS`) as the reference's executable sees it. */
import { expect, test } from "bun:test";
import { splitRtsOptions } from "../../src/cli/reference-start.ts";

test("+RTS … -RTS is taken out wherever it stands; several blocks; an unclosed +RTS runs to the end", () => {
  expect(splitRtsOptions(["start", "+RTS", "-N", "-RTS"])).toEqual({ args: ["start"], rts: ["-N"] });
  expect(splitRtsOptions(["+RTS", "-N4", "-RTS", "start", "+RTS", "-A16m", "-RTS", "--log-level", "debug"])).toEqual({
    args: ["start", "--log-level", "debug"],
    rts: ["-N4", "-A16m"],
  });
  expect(splitRtsOptions(["start", "--maintenance", "+RTS", "-N", "-s"])).toEqual({ args: ["start", "--maintenance"], rts: ["-N", "-s"] });
});

test("after --RTS everything is the program's, even +RTS", () => {
  expect(splitRtsOptions(["start", "--RTS", "+RTS", "-N"])).toEqual({ args: ["start", "+RTS", "-N"], rts: [] });
});

test("without RTS options the arguments are unchanged", () => {
  expect(splitRtsOptions(["start", "--log-level", "info"])).toEqual({ args: ["start", "--log-level", "info"], rts: [] });
});
