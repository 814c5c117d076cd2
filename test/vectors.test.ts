// The copied reference vectors must stay the bytes simplexmq computed: a file edited to make a test pass would turn
// every vector test into a check of our own output against itself.
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";

const dir = new URL("./fixtures/vectors/", import.meta.url);

test("every vector file matches the checksum recorded when it was copied from the reference", () => {
  const sums = new Map<string, string>();
  for (const line of readFileSync(new URL("SHA256SUMS", dir), "utf8").split("\n")) {
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
    if (m) sums.set(m[2]!, m[1]!);
  }
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  expect(files).toEqual([...sums.keys()].sort());
  for (const f of files) {
    const actual = createHash("sha256").update(readFileSync(new URL(f, dir))).digest("hex");
    expect({ file: f, sha256: actual }).toEqual({ file: f, sha256: sums.get(f)! });
  }
});
