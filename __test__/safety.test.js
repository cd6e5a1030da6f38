'use strict'
const native = require('../index.js')
const { InventoryService, methods } = require('..')
const { freshService, DATABASE_URL } = require('./helpers')

let t
beforeAll(async () => {
  t = await freshService('safety')
})
afterAll(() => t.cleanup())

test('a Rust panic becomes a rejected promise and the process keeps serving', async () => {
  await expect(native.debugPanic()).rejects.toMatchObject({
    type: 'unexpected_state',
    message: 'internal error in medusa-inventory-rs',
  })
  const item = await t.inventory.createInventoryItems({ sku: 'after-panic' })
  expect(item.sku).toBe('after-panic')
})

test('every IInventoryService data method is exposed', () => {
  // The method list itself is checked against @medusajs/types in api.test.js.
  for (const m of methods) expect(typeof t.inventory[m]).toBe('function')
})

test('connect errors are actionable', async () => {
  await expect(InventoryService.connect({ url: DATABASE_URL, schema: 'bad; DROP' })).rejects.toMatchObject({
    type: 'invalid_data',
    message: expect.stringContaining('schema'),
  })
  await expect(InventoryService.connect({ url: DATABASE_URL, pool: 3 })).rejects.toMatchObject({
    type: 'invalid_data',
    message: expect.stringContaining('pool'),
  })
  await expect(InventoryService.connect({ url: 'not a url' })).rejects.toMatchObject({ type: 'invalid_data' })
  await expect(
    InventoryService.connect({ url: 'postgres://postgres@127.0.0.1:1/none', schema: 'x' }),
  ).rejects.toMatchObject({ type: 'database_error' })
})

test('migrate is idempotent and safe to run from several callers at once', async () => {
  const versions = await Promise.all([t.inventory.migrate(), t.inventory.migrate(), t.inventory.migrate()])
  expect(versions).toEqual([2, 2, 2])
  const { rows } = await t.db.query('SELECT count(*)::int AS n FROM medusa_inventory_rs_schema')
  expect(rows[0].n).toBe(1)
})

test('wrong argument types are invalid_data, not crashes', async () => {
  await expect(t.inventory.retrieveAvailableQuantity(123, ['a'])).rejects.toMatchObject({ type: 'invalid_data' })
  await expect(t.inventory.retrieveAvailableQuantity('iitem_x', 'a')).rejects.toMatchObject({ type: 'not_found' })
  await expect(t.inventory.createInventoryItems('nope')).rejects.toMatchObject({ type: 'invalid_data' })
  await expect(t.inventory.listInventoryItems([])).rejects.toMatchObject({ type: 'invalid_data' })
  await expect(t.inventory.listInventoryItems({}, { take: -1 })).rejects.toMatchObject({
    type: 'invalid_data',
    message: expect.stringContaining('take'),
  })
  await expect(t.inventory.adjustInventory('iitem_x', 'loc', 'lots')).rejects.toMatchObject({
    type: 'invalid_data',
    message: expect.stringContaining('adjustment'),
  })
  await expect(
    t.inventory.adjustInventory([{ inventoryItemId: 'i', locationId: 'l', adjustment: NaN }]),
  ).rejects.toMatchObject({
    type: 'invalid_data',
    message: expect.stringContaining('adjustment'),
  })
  await expect(t.inventory.createInventoryItems({ sku: 'big', weight: 10n })).resolves.toMatchObject({ weight: 10 })
})

test('empty batches return empty arrays without touching the database', async () => {
  expect(await t.inventory.createInventoryItems([])).toEqual([])
  expect(await t.inventory.createReservationItems([])).toEqual([])
  expect(await t.inventory.updateInventoryLevels([])).toEqual([])
})
