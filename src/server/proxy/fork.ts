/**
 * Server.hs:forkCmd for proxy commands: a slow command runs on its own while the connection
 * goes on with the next ones, and is answered when done (matched by corrId). At most `limit`
 * per client connection; beyond it the connection's command processing waits for a slot, as the
 * reference's command thread does.
 */
import type { BrokerMsg } from "../../protocol/broker-messages.ts";
import { errMsg } from "../../protocol/broker-messages.ts";
import { ERR } from "../../protocol/errors.ts";
import type { Client, Env } from "../env.ts";

class Slots {
  used = 0;
  waiters: (() => void)[] = [];
}

const slots = new WeakMap<Client, Slots>();

function slotsOf(c: Client): Slots {
  let s = slots.get(c);
  if (s === undefined) {
    s = new Slots();
    slots.set(c, s);
  }
  return s;
}

/**
 * Resolves once the command has a slot and is started; its answer is sent with `corrId` and
 * `entityId` (owned copies) when `action` completes.
 */
export async function forkCmd(
  srv: Env,
  c: Client,
  limit: number,
  corrId: Uint8Array,
  entityId: Uint8Array,
  action: () => Promise<BrokerMsg>,
): Promise<void> {
  const s = slotsOf(c);
  while (s.used >= limit) await new Promise<void>((resolve) => s.waiters.push(resolve));
  s.used++;
  void action()
    .catch(() => errMsg(ERR.INTERNAL))
    .then((msg) => {
      s.used--;
      s.waiters.shift()?.();
      srv.sendLater(c, corrId, entityId, msg);
    });
}
