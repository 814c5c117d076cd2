// The bus's event lines (store/postgres/bus.ts): every kind comes back as it was sent, and a line
// that is not an event is refused, not misread. No PostgreSQL needed.
import { describe, expect, test } from "bun:test";
import type { ClusterEvent } from "../../src/store/cluster.ts";
import { decodeEvent, encodeEvent } from "../../src/store/postgres/bus.ts";

const id = (n: number) => new Uint8Array(24).fill(n);

describe("cluster event lines", () => {
  const events: ClusterEvent[] = [
    { kind: "available", party: "rcv", queueId: id(1), serviceId: null },
    { kind: "available", party: "ntf", queueId: id(2), serviceId: id(3) },
    { kind: "taken", party: "rcv", queueId: id(4), prevEpoch: 9007199254740 },
    { kind: "serviceTaken", party: "ntf", serviceId: id(5), prevEpoch: 1 },
    { kind: "ended", party: "rcv", queueId: id(6), serviceId: id(7), deleted: true },
    { kind: "ended", party: "ntf", queueId: id(8), serviceId: null, deleted: false },
    { kind: "blocked", party: "rcv", queueId: id(9), info: new Uint8Array([1, 2, 3, 250]) },
  ];
  for (const e of events)
    test(`${e.kind} (${e.party})`, () => {
      const line = encodeEvent(e);
      expect(line).not.toContain("\n");
      expect(decodeEvent(line)).toEqual(e);
    });

  test("a line of nothing we send is refused", () => {
    for (const line of ["", "x r AAAA -", "a q AAAA -", "a r", "b n AAAA AAAA"]) expect(decodeEvent(line)).toBeNull();
  });

  test("a recipient id and a service id fit ~90 events in one NOTIFY payload (8000 bytes)", () => {
    expect(encodeEvent(events[1]!).length).toBeLessThan(80);
  });
});
