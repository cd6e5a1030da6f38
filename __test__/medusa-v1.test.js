'use strict'
// The Medusa v1 entry (medusa-v1/index.js) under a real TypeORM 0.3.16 DataSource, the
// ORM and version Medusa v1 runs: v1's shapes, messages and events, and its transactions
// (`{ transactionManager }`): the module's writes commit and roll back with the caller's.
const { DataSource } = require('typeorm')
const { freshService, reservedDrift, ledgerGaps } = require('./helpers')

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

let t
let ds
let svc
let events
const v1 = require('../medusa-v1')

beforeAll(async () => {
  t = await freshService('v1', { maxConnections: 4 })
  // Medusa's own tables the entry reads for backorder variants (their v1 columns that matter).
  await t.db.query(`CREATE TABLE product_variant (id text PRIMARY KEY, allow_backorder boolean NOT NULL DEFAULT false);
    CREATE TABLE line_item (id text PRIMARY KEY, variant_id text REFERENCES product_variant(id))`)
  ds = new DataSource({
    type: 'postgres',
    url: DATABASE_URL,
    schema: t.schema,
    extra: { options: `-c search_path=${t.schema}` },
  })
  await ds.initialize()
  events = []
  // v1's EventBusService surface the stock module uses: emit, and withTransaction.
  const bus = (manager) => ({
    withTransaction: (m) => bus(m),
    emit: async (name, data) => {
      events.push({ name, data, inTransaction: !!manager })
    },
  })
  svc = new v1.default.service(
    { medusaInventoryRsConnection: t.inventory, manager: ds.manager, eventBusService: bus(undefined) },
    {},
    { scope: 'internal', resources: 'shared' },
  )
})

afterAll(async () => {
  await ds?.destroy()
  await t.cleanup()
})

afterEach(async () => {
  expect(await reservedDrift(t.db)).toEqual([])
  expect(await ledgerGaps(t.db)).toEqual([])
})

let n = 0
async function stocked(stock) {
  const item = await svc.createInventoryItem({ sku: `v1-${++n}-${Math.random()}` })
  await svc.createInventoryLevel({ inventory_item_id: item.id, location_id: 'loc', stocked_quantity: stock })
  return item
}

async function variantLine(allowBackorder) {
  const id = `${++n}-${Math.random().toString(36).slice(2)}`
  await t.db.query('INSERT INTO product_variant VALUES ($1, $2)', [`variant_${id}`, allowBackorder])
  await t.db.query('INSERT INTO line_item VALUES ($1, $2)', [`item_${id}`, `variant_${id}`])
  return { variant: `variant_${id}`, line: `item_${id}` }
}

const failure = (p) =>
  p.then(
    () => ({ resolved: true }),
    (e) => ({ type: e.type, message: e.message, code: e.code }),
  )

test('the definition has the shape v1 loads, and loads no v2 framework', () => {
  expect(typeof v1.default.service).toBe('function')
  expect(v1.default.loaders).toHaveLength(1)
  expect(typeof v1.default.runMigrations).toBe('function')
  expect(typeof v1.default.revertMigration).toBe('function')
  const names = v1.default.migrations.flatMap((m) => Object.values(m).map((c) => new c().name))
  expect(names).toEqual([
    'inventorySetup1665748086258',
    'addReservationType1675761451145',
    'itemDescriptionsAndThumbnail1682927363119',
    'medusaInventoryRsV11765000000000',
  ])
  expect(Object.keys(require.cache).filter((k) => k.includes('@medusajs/framework'))).toEqual([])
  expect(svc.__joinerConfig().serviceName).toBe('inventoryService')
})

test("v1's shapes: [rows, count] lists (take 10), single and plural creates, numbers, v1 filters", async () => {
  const items = await svc.createInventoryItems(
    Array.from({ length: 12 }, (_, i) => ({ sku: `list-${n}-${i}`, title: i % 2 ? 'odd shirt' : 'even shirt' })),
  )
  expect(items).toHaveLength(12)
  const [page, count] = await svc.listInventoryItems({ sku: items.map((i) => i.sku) })
  expect(page).toHaveLength(10)
  expect(count).toBe(12)
  const [odd, oddCount] = await svc.listInventoryItems(
    { q: 'odd shirt', sku: { starts_with: `list-${n}-` } },
    { take: 20 },
  )
  expect(oddCount).toBe(6)
  expect(odd.every((i) => i.title === 'odd shirt')).toBe(true)
  await svc.createInventoryLevels([
    { inventory_item_id: items[0].id, location_id: 'loc-a', stocked_quantity: 7 },
    { inventory_item_id: items[1].id, location_id: 'loc-b', stocked_quantity: 2 },
  ])
  const [atA] = await svc.listInventoryItems({ location_id: 'loc-a', id: items.map((i) => i.id) })
  expect(atA.map((i) => i.id)).toEqual([items[0].id])
  const [levels, levelCount] = await svc.listInventoryLevels({
    stocked_quantity: { gte: 5 },
    inventory_item_id: [items[0].id, items[1].id],
  })
  expect(levelCount).toBe(1)
  expect(levels[0]).toMatchObject({
    inventory_item_id: items[0].id,
    location_id: 'loc-a',
    stocked_quantity: 7,
    reserved_quantity: 0,
  })
  expect(typeof levels[0].stocked_quantity).toBe('number')
  expect(await svc.retrieveAvailableQuantity(items[0].id, 'loc-a')).toBe(7)
  expect(await svc.retrieveStockedQuantity(items[0].id, ['loc-a', 'loc-b'])).toBe(7)
  expect(await svc.retrieveReservedQuantity(items[0].id, [])).toBe(0)
  expect(await svc.confirmInventory(items[0].id, 'loc-a', 7)).toBe(true)
  expect(await svc.confirmInventory(items[0].id, ['loc-a'], 8)).toBe(false)
})

test("v1's messages, and the not-a-manager TypeError its tests pin", async () => {
  expect(await failure(svc.retrieveInventoryItem('iitem_nope'))).toEqual({
    type: 'not_found',
    message: 'InventoryItem with id iitem_nope was not found',
    code: undefined,
  })
  expect(await failure(svc.retrieveReservationItem('resitem_nope'))).toMatchObject({
    type: 'not_found',
    message: 'ReservationItem with id resitem_nope was not found',
  })
  const item = await stocked(3)
  expect(await failure(svc.adjustInventory(item.id, 'elsewhere', 1))).toMatchObject({
    type: 'not_found',
    message: `Inventory level for inventory item ${item.id} and location elsewhere not found`,
  })
  await expect(
    svc.updateInventoryLevel(item.id, 'loc', { stocked_quantity: 1 }, { transactionManager: {} }),
  ).rejects.toThrow('manager.getRepository is not a function')
  // Stock may go below zero by adjustment, as in v1.
  expect((await svc.adjustInventory(item.id, 'loc', -5)).stocked_quantity).toBe(-2)
})

test("writes in v1's transaction commit and roll back with it, events staged with it", async () => {
  const item = await stocked(10)
  const { line } = await variantLine(false)
  events.length = 0
  await expect(
    ds.manager.transaction(async (m) => {
      await svc.createReservationItems(
        [{ inventory_item_id: item.id, location_id: 'loc', quantity: 3, line_item_id: line }],
        {
          transactionManager: m,
        },
      )
      await svc.adjustInventory(item.id, 'loc', -2, { transactionManager: m })
      // v1's reads in the same request see them.
      expect(await svc.retrieveAvailableQuantity(item.id, ['loc'], { transactionManager: m })).toBe(5)
      throw new Error('a later step of the request failed')
    }),
  ).rejects.toThrow('a later step of the request failed')
  const [[level]] = await svc.listInventoryLevels({ inventory_item_id: item.id })
  expect(level).toMatchObject({ stocked_quantity: 10, reserved_quantity: 0 })
  expect((await svc.listReservationItems({ inventory_item_id: item.id }))[1]).toBe(0)
  expect(events.map((e) => [e.name, e.inTransaction])).toEqual([
    ['reservation-item.created', true],
    ['inventory-level.updated', true],
  ])

  await ds.manager.transaction(async (m) => {
    await svc.createReservationItem(
      { inventory_item_id: item.id, location_id: 'loc', quantity: 3, line_item_id: line },
      { transactionManager: m },
    )
    await svc.adjustInventory(item.id, 'loc', -2, { transactionManager: m })
  })
  expect(await svc.retrieveInventoryLevel(item.id, 'loc')).toMatchObject({ stocked_quantity: 8, reserved_quantity: 3 })
})

test('a refusal is insufficient_inventory naming the variant, and leaves the transaction usable', async () => {
  const item = await stocked(2)
  const { variant, line } = await variantLine(false)
  const other = await stocked(5)
  await ds.manager.transaction(async (m) => {
    await svc.createReservationItems([{ inventory_item_id: other.id, location_id: 'loc', quantity: 1 }], {
      transactionManager: m,
    })
    const refused = await failure(
      svc.createReservationItems(
        [{ inventory_item_id: item.id, location_id: 'loc', quantity: 3, line_item_id: line }],
        {
          transactionManager: m,
        },
      ),
    )
    expect(refused).toEqual({
      type: 'not_allowed',
      message: `Variant with id: ${variant} does not have the required inventory`,
      code: 'insufficient_inventory',
    })
    // v1 then cancels the payment in the same transaction, and commits.
    expect(await m.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
  })
  expect(await svc.retrieveReservedQuantity(item.id, ['loc'])).toBe(0)
  expect(await svc.retrieveReservedQuantity(other.id, ['loc'])).toBe(1)
  // Outside a transaction the same refusal, without a line item: the facade's message.
  expect(
    await failure(svc.createReservationItem({ inventory_item_id: item.id, location_id: 'loc', quantity: 3 })),
  ).toEqual({
    type: 'not_allowed',
    message: `Not enough stock available for item ${item.id} at location loc`,
    code: 'insufficient_inventory',
  })
})

test("a backorder variant's line item reserves past stock; its level shows the overdraw", async () => {
  const item = await stocked(1)
  const { line } = await variantLine(true)
  const [r] = await svc.createReservationItems([
    { inventory_item_id: item.id, location_id: 'loc', quantity: 4, line_item_id: line },
  ])
  expect(r).toMatchObject({ quantity: 4, line_item_id: line })
  expect(r).not.toHaveProperty('allow_backorder')
  expect(await svc.retrieveAvailableQuantity(item.id, ['loc'])).toBe(-3)
})

test("concurrent calls on one v1 transaction (Promise.all, as v1's fulfilment does) all land, in it", async () => {
  const items = await Promise.all([stocked(5), stocked(5), stocked(5)])
  await ds.manager.transaction(async (m) => {
    await Promise.all(
      items.flatMap((item) => [
        svc.createReservationItem(
          { inventory_item_id: item.id, location_id: 'loc', quantity: 2 },
          { transactionManager: m },
        ),
        svc.adjustInventory(item.id, 'loc', -1, { transactionManager: m }),
        m.query('SELECT 1'),
      ]),
    )
  })
  for (const item of items) {
    expect(await svc.retrieveInventoryLevel(item.id, 'loc')).toMatchObject({
      stocked_quantity: 4,
      reserved_quantity: 2,
    })
  }
})

test('deletes and restores as v1 names them, with its events', async () => {
  const item = await stocked(4)
  const r = await svc.createReservationItem({
    inventory_item_id: item.id,
    location_id: 'loc',
    quantity: 1,
    line_item_id: 'li-v1',
  })
  events.length = 0
  await svc.updateReservationItem(r.id, { quantity: 2 })
  await svc.deleteReservationItemsByLineItem('li-v1')
  expect(await svc.retrieveReservedQuantity(item.id, ['loc'])).toBe(0)
  await svc.deleteInventoryItem(item.id)
  await expect(svc.retrieveInventoryItem(item.id)).rejects.toThrow('was not found')
  await svc.restoreInventoryItem(item.id)
  expect((await svc.retrieveInventoryItem(item.id)).id).toBe(item.id)
  await svc.deleteInventoryLevel(item.id, 'loc')
  await svc.deleteInventoryLevel(item.id, 'loc')
  expect(events.map((e) => e.name)).toEqual([
    'reservation-item.updated',
    'reservation-item.deleted',
    'inventory-level.deleted',
    'inventory-item.deleted',
    'inventory-level.restored',
    'inventory-item.restored',
    'inventory-level.deleted',
  ])
  expect(events[1].data).toEqual({ line_item_id: 'li-v1' })
})

test("v1's migration run records the stock module's names and ours, and converges", async () => {
  const schema = `${t.schema}_mig`
  await t.db.query(`CREATE SCHEMA ${schema}`)
  const run = new DataSource({
    type: 'postgres',
    url: DATABASE_URL,
    schema,
    extra: { options: `-c search_path=${schema}` },
    migrations: v1.default.migrations.flatMap((m) => Object.values(m)),
    migrationsTransactionMode: 'all',
  })
  await run.initialize()
  try {
    const done = await run.runMigrations()
    expect(done.map((m) => m.name)).toEqual([
      'inventorySetup1665748086258',
      'addReservationType1675761451145',
      'itemDescriptionsAndThumbnail1682927363119',
      'medusaInventoryRsV11765000000000',
    ])
    const tables = await run.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('inventory_item', 'inventory_level', 'reservation_item') ORDER BY 1`,
      [schema],
    )
    expect(tables.map((r) => r.table_name)).toEqual(['inventory_item', 'inventory_level', 'reservation_item'])
    expect(await run.runMigrations()).toEqual([])
  } finally {
    await run.destroy()
    await t.db.query(`DROP SCHEMA ${schema} CASCADE`)
  }
})

test("a deadlock between two v1 transactions carries 40P01 in code, where v1's atomicPhase_ retries", async () => {
  const [a, b] = await Promise.all([stocked(5), stocked(5)])
  const first = ds.createQueryRunner()
  const second = ds.createQueryRunner()
  await first.startTransaction()
  await second.startTransaction()
  try {
    await svc.adjustInventory(a.id, 'loc', -1, { transactionManager: first.manager })
    await svc.adjustInventory(b.id, 'loc', -1, { transactionManager: second.manager })
    // Each now waits for the level the other holds: Postgres fails one of them.
    const runners = [first, second]
    const calls = [
      failure(svc.adjustInventory(b.id, 'loc', -1, { transactionManager: first.manager })),
      failure(svc.adjustInventory(a.id, 'loc', -1, { transactionManager: second.manager })),
    ]
    const loser = await Promise.race(
      calls.map((c, i) => c.then((o) => (o.resolved ? new Promise(() => {}) : { o, i }))),
    )
    expect(loser.o).toMatchObject({ type: 'conflict', code: '40P01' })
    // Only the loser's savepoint was rolled back: its transaction is usable, still holding
    // its earlier lock, until v1 rolls it back to retry; then the winner goes on.
    expect(await runners[loser.i].query('SELECT 1 AS one')).toEqual([{ one: 1 }])
    await runners[loser.i].rollbackTransaction()
    expect(await calls[1 - loser.i]).toEqual({ resolved: true })
    await runners[1 - loser.i].commitTransaction()
  } finally {
    for (const r of [first, second]) {
      if (r.isTransactionActive) await r.rollbackTransaction()
      await r.release()
    }
  }
  // The winner's two adjustments (one on each level) landed, the loser's none.
  const after = [await svc.retrieveStockedQuantity(a.id, ['loc']), await svc.retrieveStockedQuantity(b.id, ['loc'])]
  expect(after).toEqual([4, 4])
})

test('reserved_quantity set on a level, as v1 callers may, is held by one marked reservation', async () => {
  const item = await svc.createInventoryItem({ sku: `set-reserved-${Math.random()}` })
  const level = await svc.createInventoryLevel({
    inventory_item_id: item.id,
    location_id: 'loc',
    stocked_quantity: 20,
    reserved_quantity: 15,
  })
  expect(level).toMatchObject({ stocked_quantity: 20, reserved_quantity: 15 })
  expect(await svc.confirmInventory(item.id, ['loc'], 6)).toBe(false)
  await svc.createReservationItem({
    inventory_item_id: item.id,
    location_id: 'loc',
    quantity: 2,
    line_item_id: 'li-set',
  })
  // The set value is a total: the marked reservation shrinks to make room for the others.
  const updated = await svc.updateInventoryLevel(item.id, 'loc', { stocked_quantity: 25, reserved_quantity: 4 })
  expect(updated).toMatchObject({ stocked_quantity: 25, reserved_quantity: 4 })
  const [held] = await svc.listReservationItems({ inventory_item_id: item.id })
  expect(held.map((r) => r.quantity).sort()).toEqual([2, 2])
  // Below what the other reservations hold: refused, nothing written.
  const below = await failure(
    svc.updateInventoryLevels([
      { inventory_item_id: item.id, location_id: 'loc', stocked_quantity: 1, reserved_quantity: 1 },
    ]),
  )
  expect(below).toMatchObject({ type: 'invalid_data' })
  expect(below.message).toMatch(
    /^reserved_quantity of the level of item .* must be an integer of at least 2, the quantity its reservations hold; received 1$/,
  )
  expect(await svc.retrieveInventoryLevel(item.id, 'loc')).toMatchObject({ stocked_quantity: 25, reserved_quantity: 4 })
  await svc.updateInventoryLevel(item.id, 'loc', { reserved_quantity: 2 })
  expect((await svc.listReservationItems({ inventory_item_id: item.id }))[1]).toBe(1)
})

test("v1's updates replace metadata; date filters; every missing level named per row", async () => {
  const item = await svc.createInventoryItem({ sku: `meta-${Math.random()}`, metadata: { abc: 123 } })
  expect((await svc.updateInventoryItem(item.id, { metadata: { dce: 456 } })).metadata).toEqual({ dce: 456 })
  const [recent, count] = await svc.listInventoryItems({ id: [item.id], created_at: { gte: item.created_at } })
  expect([recent.length, count]).toEqual([1, 1])
  expect((await svc.listInventoryItems({ id: [item.id], created_at: { gt: new Date(Date.now() + 60_000) } }))[1]).toBe(
    0,
  )
  const row = { inventory_item_id: item.id, location_id: 'nowhere', quantity: 1 }
  expect(await failure(svc.createReservationItems([row, row]))).toEqual({
    type: 'not_found',
    message: `Item ${item.id} is not stocked at location nowhere, Item ${item.id} is not stocked at location nowhere`,
    code: undefined,
  })
})
