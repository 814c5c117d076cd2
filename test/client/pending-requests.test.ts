// The pending-request registry on its own: matching by corrId (chained when the 6-byte map key
// collides), duplicate refusal, timeouts by deadline (awaited as rejections, never measured), and
// rejecting everything on close. Client.hs:ProtocolClient sentCommands / getResponse.
import { describe, expect, test } from "bun:test";
import { SMPClientError } from "../../src/client/errors.ts";
import { PendingRequests } from "../../src/client/pending-requests.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";

const PONG: BrokerMsg = { tag: "PONG" };
const OK: BrokerMsg = { tag: "OK" };

/** A corrId whose first 6 bytes (the map key) are `prefix`, then `tail`. */
function corrId(prefix: number, tail: number): Uint8Array {
  const c = new Uint8Array(24).fill(prefix);
  c[23] = tail;
  return c;
}
const entity = (n: number) => new Uint8Array(24).fill(n);

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: Error) => e,
  );
}

describe("PendingRequests", () => {
  test("a response is matched by corrId and returns the request's entity; unknown corrIds are not found", async () => {
    const reg = new PendingRequests(10_000);
    const p = reg.register(corrId(1, 0), entity(7));
    expect(reg.size).toBe(1);
    expect(reg.take(corrId(2, 0))).toBeNull();
    const q = reg.take(corrId(1, 0))!;
    expect(q.entityId).toEqual(entity(7));
    expect(reg.size).toBe(0);
    q.resolve(PONG);
    expect(await p).toEqual(PONG);
    expect(reg.take(corrId(1, 0))).toBeNull(); // taken once only: a second response is "late"
  });

  test("corrIds sharing the map key are kept apart, and taken in any order", async () => {
    const reg = new PendingRequests(10_000);
    const a = reg.register(corrId(5, 1), entity(1));
    const b = reg.register(corrId(5, 2), entity(2));
    const c = reg.register(corrId(5, 3), entity(3));
    expect(reg.size).toBe(3);
    for (const [tail, msg] of [
      [2, OK],
      [1, PONG],
      [3, OK],
    ] as const) {
      const q = reg.take(corrId(5, tail))!;
      expect(q.entityId).toEqual(entity(tail));
      q.resolve(msg);
    }
    expect(reg.size).toBe(0);
    expect(await Promise.all([a, b, c])).toEqual([PONG, OK, OK]);
  });

  test("a corrId is refused while a request with it is pending, and accepted again once it was taken", async () => {
    const reg = new PendingRequests(10_000);
    void reg.register(corrId(9, 9), entity(1));
    const dup = await rejection(reg.register(corrId(9, 9), entity(2)));
    expect(dup).toBeInstanceOf(RangeError);
    expect(reg.size).toBe(1);
    reg.take(corrId(9, 9))!.resolve(OK);
    const again = reg.register(corrId(9, 9), entity(3));
    expect(reg.size).toBe(1);
    reg.take(corrId(9, 9))!.resolve(PONG);
    expect(await again).toEqual(PONG);
  });

  test("short corrIds (fewer than 6 bytes) work", async () => {
    const reg = new PendingRequests(10_000);
    const p = reg.register(Uint8Array.of(1, 2), entity(0));
    expect(reg.take(Uint8Array.of(1))).toBeNull();
    reg.take(Uint8Array.of(1, 2))!.resolve(OK);
    expect(await p).toEqual(OK);
  });

  test("a request past its deadline is rejected with timeout and leaves; the others stay pending", async () => {
    let released = 0;
    const reg = new PendingRequests(60_000, () => released++);
    const slow = reg.register(corrId(1, 1), entity(1)); // default deadline, a minute away
    const fast = reg.register(corrId(1, 2), entity(2), 5);
    const e = await rejection(fast);
    expect(e).toBeInstanceOf(SMPClientError);
    expect((e as SMPClientError).kind).toBe("timeout");
    expect(reg.size).toBe(1);
    expect(released).toBe(1);
    expect(reg.take(corrId(1, 2))).toBeNull(); // its response would now be "late"
    reg.take(corrId(1, 1))!.resolve(OK);
    expect(await slow).toEqual(OK);
    expect(released).toBe(2);
  });

  test("the timer is re-armed for the later deadlines after it fired for the earliest", async () => {
    // Deadlines further apart than the timer's slack (250 ms at a 60 s default): two firings.
    const reg = new PendingRequests(60_000);
    const early = rejection(reg.register(corrId(2, 1), entity(1), 5));
    const late = rejection(reg.register(corrId(2, 2), entity(2), 600));
    expect((await early as SMPClientError).kind).toBe("timeout");
    expect((await late as SMPClientError).kind).toBe("timeout");
    expect(reg.size).toBe(0);
  });

  test("rejectAll rejects every request, chained ones too, and nothing times out afterwards", async () => {
    let released = 0;
    const reg = new PendingRequests(5, () => released++);
    const ps = [corrId(3, 1), corrId(3, 2), corrId(4, 1)].map((c) => rejection(reg.register(c, entity(0))));
    const closed = new SMPClientError("closed", "client closed");
    reg.rejectAll(closed);
    expect(reg.size).toBe(0);
    expect(await Promise.all(ps)).toEqual([closed, closed, closed]);
    // The timer was stopped: a later request is unaffected by the old deadlines and still times out on its own.
    const later = await rejection(reg.register(corrId(3, 1), entity(0)));
    expect((later as SMPClientError).kind).toBe("timeout");
    expect(released).toBe(1); // only the timed-out one: rejectAll frees no slot one by one
  });
});
