import { afterEach, expect, test } from "bun:test";
import { isLogLevel, log, logEnabled, setLogLevel, setLogSink } from "../../src/util/log.ts";

afterEach(() => setLogLevel("info"));

test("messages below the level are dropped; lines carry an ISO timestamp and the level", () => {
  const lines: string[] = [];
  const prev = setLogSink((l) => lines.push(l));
  try {
    setLogLevel("warn");
    log.info("hidden");
    log.warn("shown");
    log.error("also shown");
    expect(logEnabled("note")).toBe(false);
    expect(logEnabled("error")).toBe(true);
  } finally {
    setLogSink(prev);
  }
  expect(lines.length).toBe(2);
  expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[WARN\] shown$/);
  expect(lines[1]).toContain("[ERROR] also shown");
});

test("the reference's level names (Server/CLI.hs:parseLogLevel)", () => {
  for (const l of ["trace", "debug", "info", "note", "warn", "error"]) expect(isLogLevel(l)).toBe(true);
  expect(isLogLevel("warning")).toBe(false);
});
