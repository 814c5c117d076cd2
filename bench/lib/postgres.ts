// The PostgreSQL database a benchmark uses: SMP_BENCH_PG_URI (else SMP_TEST_PG_URI), a fresh schema.
import { SQL } from "bun";

export interface BenchPostgres {
  readonly uri: string;
  readonly schema: string;
}

export function benchPostgresUri(): string {
  const uri = process.env.SMP_BENCH_PG_URI ?? process.env.SMP_TEST_PG_URI;
  if (uri === undefined || uri === "") throw new Error("--store postgres needs SMP_BENCH_PG_URI (or SMP_TEST_PG_URI; see scripts/pg-test-cluster.sh)");
  return uri;
}

/** A new empty schema (the server's start refuses a missing one). */
export async function benchSchema(): Promise<BenchPostgres> {
  const uri = benchPostgresUri();
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  const sql = new SQL(uri, { max: 1 });
  try {
    await sql.unsafe(`CREATE SCHEMA "${schema}"`);
  } finally {
    await sql.close();
  }
  return { uri, schema };
}

export async function dropBenchSchema(pg: BenchPostgres): Promise<void> {
  const sql = new SQL(pg.uri, { max: 1 });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${pg.schema}" CASCADE`);
  } finally {
    await sql.close();
  }
}
