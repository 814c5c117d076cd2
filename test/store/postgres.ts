// The PostgreSQL test cluster: `SMP_TEST_PG_URI` (scripts/pg-test-cluster.sh prints it; .ci/run
// exports it). Without it the PostgreSQL variants of the tests are not defined and say so once;
// in CI (CI=true) its absence is an error, so CI cannot pass without running them.
import { SQL } from "bun";

let warned = false;

export function testPostgresUri(): string | null {
  const uri = process.env.SMP_TEST_PG_URI;
  if (uri !== undefined && uri !== "") return uri;
  if (process.env.CI === "true") throw new Error("CI=true but SMP_TEST_PG_URI is not set: .ci/run must start PostgreSQL (scripts/pg-test-cluster.sh)");
  if (!warned) {
    warned = true;
    console.warn("PostgreSQL variants of the store tests: skipped: no PostgreSQL (set SMP_TEST_PG_URI, e.g. from scripts/pg-test-cluster.sh)");
  }
  return null;
}

let n = 0;

/** A schema name no other test process uses. */
export function testSchemaName(): string {
  return `t_${process.pid}_${Date.now().toString(36)}_${++n}`;
}

export async function dropTestSchemas(uri: string, schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return;
  const sql = new SQL(uri, { max: 1 });
  try {
    for (const s of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await sql.close();
  }
}
