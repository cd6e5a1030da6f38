'use strict'
// Switching the inventory module either way is one line of config (`inventoryService.resolve`,
// here INVENTORY_MODULE), on ONE database: stock @medusajs/inventory 1.11.7 → medusa-inventory-rs
// (medusa-v1, or V1_MODULE) → stock again, each step `medusa migrations run` then `medusa start`,
// the stock levels and reservations made before read back through the admin API, and a checkout.
const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { APP_DIR, adminClient, appEnv, client, prepareApp, runMedusa, startServer } = require('./support/harness')
const shop = require('./support/shop')

const STOCK_MIGRATIONS = [
  'inventorySetup1665748086258',
  'addReservationType1675761451145',
  'itemDescriptionsAndThumbnail1682927363119',
]
const OUR_MIGRATION = 'medusaInventoryRsV11765000000000'

/** The environment of one module on the same database: the switch is INVENTORY_MODULE only. */
function envFor(databaseUrl, moduleName) {
  const env = appEnv(databaseUrl)
  if (moduleName === 'medusa') env.INVENTORY_MODULE = 'medusa'
  else delete env.INVENTORY_MODULE
  return env
}

async function migrationNames(db) {
  const { rows } = await db.query(`SELECT name FROM migrations ORDER BY id`)
  return rows.map((r) => r.name)
}

describe('switching the inventory module on one database: stock → ours → stock', () => {
  const ctx = {}
  const started = Date.now()
  let app
  let server
  const timings = {}

  /** `medusa migrations run` with the module, then a server; ctx.admin/store on it. */
  async function switchTo(moduleName, label) {
    const env = envFor(app.db.url, moduleName)
    timings[`${label}MigrateMs`] = await runMedusa(['migrations', 'run'], {
      env,
      log: path.join(APP_DIR, '.e2e-logs', `switch-${label}-migrate.log`),
    })
    await startOn(env, label)
  }

  async function startOn(env, label) {
    server = await startServer({ env, name: `switch-${label}` })
    timings[`${label}ReadyMs`] = server.readyMs
    ctx.admin = await adminClient(server.url)
    ctx.store = client(server.url)
  }

  async function stop() {
    if (server) await server.stop()
    server = null
  }

  /** Level and reservations through the admin API, checked against SQL. */
  async function state() {
    const api = await shop.levelsViaApi(ctx.admin, ctx.shop, ctx.item.inventoryItemId)
    const sql = await shop.levelsViaSql(ctx.db, ctx.shop, ctx.item.inventoryItemId)
    const { reservations } = await ctx.admin.get(
      `/admin/reservations?inventory_item_id[]=${ctx.item.inventoryItemId}&limit=100`,
    )
    assert.equal(sql.reserved, sql.liveReserved, 'reserved_quantity = live reservations (SQL)')
    return {
      stocked: api.stocked,
      reserved: api.reserved,
      reservations: reservations
        .map((r) => ({ line_item_id: r.line_item_id, location_id: r.location_id, quantity: r.quantity }))
        .sort((a, b) => a.line_item_id.localeCompare(b.line_item_id)),
    }
  }

  function reservationOf(order) {
    return { line_item_id: order.items[0].id, location_id: ctx.shop.locationId, quantity: order.items[0].quantity }
  }

  before(async () => {
    // Fresh database, `medusa migrations run` + `medusa user` with the stock module.
    const saved = process.env.INVENTORY_MODULE
    process.env.INVENTORY_MODULE = 'medusa'
    try {
      app = await prepareApp({ label: 'switch-stock' })
    } finally {
      if (saved === undefined) delete process.env.INVENTORY_MODULE
      else process.env.INVENTORY_MODULE = saved
    }
    ctx.db = app.db
    timings.stockMigrateMs = app.timings.migrateMs
  })

  after(async () => {
    await stop()
    if (app) await app.db.drop()
    console.log(`[e2e] switch: ${JSON.stringify({ ...timings, totalMs: Date.now() - started })}`)
  })

  test('1. stock @medusajs/inventory: a level of 10 and an order of 1', async () => {
    const names = await migrationNames(ctx.db)
    for (const n of STOCK_MIGRATIONS) assert.ok(names.includes(n), `stock migration ${n} recorded`)
    assert.ok(!names.includes(OUR_MIGRATION))
    const { rows } = await ctx.db.query(`SELECT to_regclass('inventory_movement') IS NOT NULL AS ledger`)
    assert.equal(rows[0].ledger, false, 'the stock module has no ledger table')
    ctx.migrations = names

    await startOn(envFor(app.db.url, 'medusa'), 'stock')
    ctx.shop = await shop.setupShop(ctx.admin)
    ctx.item = await shop.createManagedProduct(ctx.admin, ctx.shop)
    await shop.createLevel(ctx.admin, ctx.shop, ctx.item.inventoryItemId, 10)
    const order = await shop.checkout(ctx.store, ctx.shop, ctx.item.variantId, 1)
    ctx.reservations = [reservationOf(order)]
    ctx.expected = { stocked: 10, reserved: 1, reservations: ctx.reservations }
    assert.deepEqual(await state(), ctx.expected, 'stock module: 10 stocked, 1 reserved')
    await stop()
  })

  test('2. switch to medusa-inventory-rs: only its migration runs; the level and reservation are there', async () => {
    assert.ok(ctx.expected, 'step 1 ran')
    await switchTo('ours', 'ours')
    const names = await migrationNames(ctx.db)
    assert.deepEqual(names, [...ctx.migrations, OUR_MIGRATION], 'exactly our migration was added')
    for (const n of STOCK_MIGRATIONS) assert.equal(names.filter((x) => x === n).length, 1, `${n} is not replayed`)
    const { rows } = await ctx.db.query(`SELECT to_regclass('inventory_movement') IS NOT NULL AS ledger`)
    assert.equal(rows[0].ledger, true, 'our ledger table exists: ours is the module in use')
    ctx.migrations = names

    assert.deepEqual(await state(), ctx.expected, 'ours reads the stock module’s level and reservation')
    const order = await shop.checkout(ctx.store, ctx.shop, ctx.item.variantId, 2)
    ctx.reservations = [...ctx.reservations, reservationOf(order)].sort((a, b) =>
      a.line_item_id.localeCompare(b.line_item_id),
    )
    ctx.expected = { stocked: 10, reserved: 3, reservations: ctx.reservations }
    assert.deepEqual(await state(), ctx.expected, 'ours: 10 stocked, 3 reserved')
    await stop()
  })

  test('3. switch back to stock: no migration runs; it reads what ours wrote and sells', async () => {
    assert.ok(ctx.expected?.reserved === 3, 'step 2 ran')
    await switchTo('medusa', 'back')
    assert.deepEqual(await migrationNames(ctx.db), ctx.migrations, 'nothing new in migrations')

    assert.deepEqual(await state(), ctx.expected, 'stock reads the level and both reservations')
    const order = await shop.checkout(ctx.store, ctx.shop, ctx.item.variantId, 1)
    ctx.reservations = [...ctx.reservations, reservationOf(order)].sort((a, b) =>
      a.line_item_id.localeCompare(b.line_item_id),
    )
    assert.deepEqual(
      await state(),
      { stocked: 10, reserved: 4, reservations: ctx.reservations },
      'stock again: 10 stocked, 4 reserved',
    )
    await stop()
  })
})
