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

/**
 * The stores a factory opened, each with where it lives (`at`) and its options: `reopen` closes a
 * store and opens the same data again, `closeAll` closes every one.
 */
function openedStores<At>(openStore: (at: At, opts: StoreTestOptions) => Store | Promise<Store>) {
  const opened = new Map<Store, { at: At; opts: StoreTestOptions }>();
  const openAt = async (at: At, opts: StoreTestOptions): Promise<Store> => {
    const s = await openStore(at, opts);
    opened.set(s, { at, opts });
    return s;
  };
  return {
    openAt,
    reopen: async (s: Store): Promise<Store> => {
      const was = opened.get(s);
      if (was === undefined) throw new Error("not a store of this factory");
      await s.close();
      return openAt(was.at, was.opts);
    },
    closeAll: async (): Promise<void> => {
      for (const s of opened.keys()) await s.close();
    },
  };
}

/** A database file per store in one temp directory (a file, so that `reopen` can find it). */
function sqliteFactory(): StoreFactory {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let n = 0;
  const stores = openedStores((path: string, opts) => openSqliteStore({ path, ...opts }));
  return {
    name: "sqlite",
    open: async (opts) => {
      tmp ??= tempDir();
      return stores.openAt(join(tmp.dir, `store-${++n}.sqlite`), opts);
    },
    reopen: stores.reopen,
    cleanup: async () => {
      await stores.closeAll();
      tmp?.cleanup();
    },
  };
}

/** A fresh schema per store (`db_schema`) in the test cluster; `cleanup` drops them. */
function postgresFactory(uri: string): StoreFactory {
  const schemas: string[] = [];
  const stores = openedStores((schema: string, opts) => openPostgresStore({ uri, schema, poolSize: 3, createSchema: true, ...opts }));
  return {
    name: "postgres",
    open: async (opts) => {
      const schema = testSchemaName();
      schemas.push(schema);
      return stores.openAt(schema, opts);
    },
    reopen: stores.reopen,
    cleanup: async () => {
      await stores.closeAll();
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
