// One cluster node in a process of its own (cluster-bus.test.ts kills it with SIGKILL): a server
// on the schema given as argument, printing its port, fingerprint and node id as one JSON line.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../../src/server/index.ts";
import { openPostgresStore } from "../../src/store/postgres/open.ts";
import { testOptions } from "./harness.ts";

const uri = process.env.SMP_TEST_PG_URI!;
const schema = process.argv[2]!;
const dir = mkdtempSync(join(tmpdir(), "smp-cluster-node-"));
const options = testOptions({ store: { postgres: { uri, schema, poolSize: 4 } } }, dir);
const store = await openPostgresStore({ uri, schema, poolSize: 4, createSchema: true, msgQueueQuota: 128 });
const running = await startServer(options, store);
const fp = Buffer.from(options.credentials.fingerprint).toString("base64url") + "=";
console.log(JSON.stringify({ address: `smp://${fp}@127.0.0.1:${running.ports[0]}`, nodeId: store.cluster.nodeId, dir }));
