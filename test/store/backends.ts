// The store backends the backend-neutral store tests run against. Each test file calls
// `describeEachStore` once; a new backend (PostgreSQL) adds one factory here and runs the same
// tests unchanged. Only what the `Store` interface offers may be used through it: tests of one
// backend's internals (SQLite's group commit, files, migrations) live in their own files.
import { afterAll, afterEach, describe } from "bun:test";
import { join } from "node:path";
import { openPostgresStore } from "../../src/store/postgres/open.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import type { Store } from "../../src/store/store.ts";
import { tempDir } from "./helpers.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "./postgres.ts";

export interface StoreTestOptions {
  /** Messages per queue before QUOTA (the server's `msgQueueQuota`; default 128). */
  readonly msgQueueQuota?: number;
}

/** One backend: opens empty stores and reopens their data as a restarted server would. */
export interface StoreFactory {
  readonly name: string;
  open(opts: StoreTestOptions): Promise<Store>;
  /** Closes `s` and opens the same data again, with the same options. */
  reopen(s: Store): Promise<Store>;
  /** Removes everything `open` created. */
  cleanup(): Promise<void>;
}

/** A database file per store in one temp directory (a file, so that `reopen` can find it). */
function sqliteFactory(): StoreFactory {
  let tmp: ReturnType<typeof tempDir> | undefined;
  const opened = new Map<Store, { path: string; opts: StoreTestOptions }>();
  let n = 0;
  const openAt = (path: string, opts: StoreTestOptions): Store => {
    const s = openSqliteStore({ path, ...opts });
    opened.set(s, { path, opts });
    return s;
  };
  return {
    name: "sqlite",
    open: async (opts) => {
      tmp ??= tempDir();
      return openAt(join(tmp.dir, `store-${++n}.sqlite`), opts);
    },
    reopen: async (s) => {
      const at = opened.get(s);
      if (at === undefined) throw new Error("not a store of this factory");
      await s.close();
      return openAt(at.path, at.opts);
    },
    cleanup: async () => {
      for (const s of opened.keys()) await s.close();
      tmp?.cleanup();
    },
  };
}

/** A fresh schema per store (`db_schema`) in the test cluster; `cleanup` drops them. */
function postgresFactory(uri: string): StoreFactory {
  const opened = new Map<Store, { schema: string; opts: StoreTestOptions }>();
  const schemas: string[] = [];
  const openAt = async (schema: string, opts: StoreTestOptions): Promise<Store> => {
    const s = await openPostgresStore({ uri, schema, poolSize: 3, createSchema: true, ...opts });
    opened.set(s, { schema, opts });
    return s;
  };
  return {
    name: "postgres",
    open: async (opts) => {
      const schema = testSchemaName();
      schemas.push(schema);
      return openAt(schema, opts);
    },
    reopen: async (s) => {
      const at = opened.get(s);
      if (at === undefined) throw new Error("not a store of this factory");
      await s.close();
      return openAt(at.schema, at.opts);
    },
    cleanup: async () => {
      for (const s of opened.keys()) await s.close();
      await dropTestSchemas(uri, schemas);
    },
  };
}

export const STORE_FACTORIES: readonly (() => StoreFactory)[] = [sqliteFactory, ...postgresFactories()];

function postgresFactories(): (() => StoreFactory)[] {
  const uri = testPostgresUri();
  return uri === null ? [] : [() => postgresFactory(uri)];
}

/** What a suite gets: stores that are closed after each test. */
export interface TestStores {
  open(opts?: StoreTestOptions): Promise<Store>;
  reopen(s: Store): Promise<Store>;
}

/** Defines `suite` once per backend, under a `describe` named after it. */
export function describeEachStore(suite: (stores: TestStores) => void): void {
  for (const make of STORE_FACTORIES) {
    const f = make();
    describe(f.name, () => {
      const live: Store[] = [];
      afterEach(async () => {
        for (const s of live.splice(0)) await s.close();
      });
      afterAll(() => f.cleanup());
      suite({
        open: async (opts = {}) => {
          const s = await f.open(opts);
          live.push(s);
          return s;
        },
        reopen: async (s) => {
          const r = await f.reopen(s);
          live.push(r);
          return r;
        },
      });
    });
  }
}
