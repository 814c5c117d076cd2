/** The `blobs` table: small named values kept with the data (`Store.putBlob`, the nodes' statistics). */
import type { PgConnection } from "./connection.ts";

/** Sets the blob `name` to `value` (null deletes it), as one write of `op`. */
export async function putBlob(conn: PgConnection, op: string, name: string, value: Uint8Array | null): Promise<void> {
  await conn.write(op, async (tx) => {
    if (value === null) await tx`DELETE FROM blobs WHERE name = ${name}`;
    else await tx`INSERT INTO blobs(name, value) VALUES (${name}, ${value}) ON CONFLICT (name) DO UPDATE SET value = excluded.value`;
  });
}
