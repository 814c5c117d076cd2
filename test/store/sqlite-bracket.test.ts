/**
 * The SQLite write bracket (store/sqlite/connection.ts): `write` and `writeUnique` share one
 * bracket — each operation is its own savepoint, undone alone when it fails; writeUnique answers
 * DUPLICATE for a UNIQUE violation and throws StoreError for anything else, as write does.
 */
import { afterEach, expect, test } from "bun:test";
import { SqliteConnection } from "../../src/store/sqlite/connection.ts";
import { StoreError } from "../../src/store/types.ts";

let conn: SqliteConnection | null = null;
afterEach(() => conn?.close());

/** A connection with one table of unique values, an insert and a row count. */
function uniqueTable() {
  const c = (conn = new SqliteConnection({ path: ":memory:" }));
  c.prepare("CREATE TABLE t (v TEXT UNIQUE)").run();
  const ins = c.prepare("INSERT INTO t (v) VALUES (?)");
  const count = c.prepare<{ n: number }>("SELECT count(*) AS n FROM t");
  return { c, ins, n: () => c.read("count", () => count.get()!.n, null) };
}

test("an operation that fails is undone alone; UNIQUE → DUPLICATE from writeUnique, StoreError from write", async () => {
  const { c, ins, n } = uniqueTable();
  const two = (a: string, b: string) => {
    ins.run(a);
    ins.run(b);
    return "OK" as const;
  };
  expect(c.write("one", (a: string) => ins.run(a).changes, "a")).toBe(1);
  expect(c.writeUnique("dup", two, "b", "a")).toBe("DUPLICATE"); // "b" is undone with it
  expect(n()).toBe(1);
  expect(() => c.write("dup", two, "c", "a")).toThrow(StoreError);
  expect(n()).toBe(1);
  const broken = (a: string) => {
    ins.run(a);
    throw new Error("disk on fire");
  };
  expect(() => c.writeUnique("other", broken, "d", null)).toThrow(StoreError);
  expect(n()).toBe(1);
  expect(c.writeUnique("fine", two, "e", "f")).toBe("OK");
  await c.flush();
  expect(n()).toBe(3);
});

test("writeOne: its failing last statement is undone by SQLite alone; the transaction and earlier operations stay", async () => {
  const { c, ins, n } = uniqueTable();
  // a multi-row INSERT whose second row violates UNIQUE: SQLite undoes the whole statement
  const insTwo = c.prepare("INSERT INTO t (v) VALUES (?), (?)");
  expect(c.write("first", (a: string) => ins.run(a).changes, "a")).toBe(1);
  expect(c.writeOne("one", (a: string, b: string) => insTwo.run(a, b).changes, "b", "c")).toBe(2);
  expect(() => c.writeOne("dup", (a: string, b: string) => insTwo.run(a, b).changes, "d", "a")).toThrow(StoreError);
  expect(n()).toBe(3); // "d" undone with its statement, nothing else
  await c.flush(); // the group's transaction was not abandoned: it commits
  expect(n()).toBe(3);
  expect(c.writeOne("after", (a: string) => ins.run(a).changes, "d")).toBe(1);
  await c.flush();
  expect(n()).toBe(4);
});
