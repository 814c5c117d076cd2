// The resolution limiter: at most `limit` running, a bounded queue, stale waiters answered instead of started late.
import { describe, expect, test } from "bun:test";
import { ConcurrencyLimiter, type Admission } from "../../../src/server/names/limiter.ts";

describe("ConcurrencyLimiter", () => {
  test("runs up to the limit, queues up to maxQueued in order, refuses the rest at once", async () => {
    const l = new ConcurrencyLimiter(2, 2, 1000);
    const got: string[] = [];
    const track = (id: string, p: Promise<Admission>) => p.then((a) => got.push(`${id}:${a}`));
    const all = ["a", "b", "c", "d", "e"].map((id) => track(id, l.acquire()));
    await Bun.sleep(0);
    expect(got).toEqual(["a:run", "b:run", "e:busy"]);
    expect([l.running, l.waiting]).toEqual([2, 2]);
    l.release();
    await Bun.sleep(0);
    expect(got).toEqual(["a:run", "b:run", "e:busy", "c:run"]);
    l.release();
    l.release();
    await Promise.all(all);
    expect(got).toEqual(["a:run", "b:run", "e:busy", "c:run", "d:run"]);
    expect([l.running, l.waiting]).toEqual([1, 0]);
  });
  test("a waiter older than maxWaitMs is answered \"expired\" and the slot goes to the next one", async () => {
    let now = 0;
    const l = new ConcurrencyLimiter(1, 10, 100, () => now);
    expect(await l.acquire()).toBe("run");
    const old = l.acquire();
    now = 80;
    const fresh = l.acquire();
    now = 150; // old waited 150 > 100, fresh 70
    l.release();
    expect(await old).toBe("expired");
    expect(await fresh).toBe("run");
    expect(l.running).toBe(1);
  });
  test("close() answers waiters and later calls with \"closed\"", async () => {
    const l = new ConcurrencyLimiter(1, 10, 1000);
    await l.acquire();
    const w = l.acquire();
    l.close();
    expect(await w).toBe("closed");
    expect(await l.acquire()).toBe("closed");
  });
  test("a long stream of waiters keeps working across queue compaction", async () => {
    const l = new ConcurrencyLimiter(1, 100000, 1e9);
    await l.acquire();
    const waiters = Array.from({ length: 5000 }, () => l.acquire());
    for (let i = 0; i < 5000; i++) l.release();
    expect(new Set(await Promise.all(waiters))).toEqual(new Set(["run"]));
    expect([l.running, l.waiting]).toEqual([1, 0]);
  });
});
