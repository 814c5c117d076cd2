// sameId (encoding/bytes.ts): the one comparison of optional ids used by the server and the store.
import { expect, test } from "bun:test";
import { sameId } from "../../src/encoding/bytes.ts";

test("sameId: equal bytes in different arrays, or both absent; absent against present is different", () => {
  expect(sameId(null, null)).toBe(true);
  expect(sameId(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
  expect(sameId(null, Uint8Array.of(1))).toBe(false);
  expect(sameId(Uint8Array.of(1), null)).toBe(false);
  expect(sameId(new Uint8Array(0), null)).toBe(false);
  expect(sameId(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
  expect(sameId(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
});
