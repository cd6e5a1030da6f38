// Vitest: vitest.config.mjs's globalSetup (test/vitest/global-setup.mjs) starts one embedded
// Postgres for the run (or uses DATABASE_URL); each test gets a fresh inventory.
import { test, expect, beforeEach, afterEach } from 'vitest'
import { createRequire } from 'node:module'
import { createTestInventory } from 'medusa-inventory-rs/testing'

const { OrderService, OutOfStockError } = createRequire(import.meta.url)('../../order-service.js')

let kit
let orders
beforeEach(async () => {
  kit = await createTestInventory()
  orders = new OrderService(kit.inventory)
})
afterEach(() => kit.cleanup())

test('the run has one database: the globalSetup one, or DATABASE_URL', () => {
  expect(kit.url).toBe(process.env.DATABASE_URL || process.env.MEDUSA_INVENTORY_RS_TEST_URL)
})

test('reserves every line of an order', async () => {
  const ids = await kit.seed([
    { sku: 'SHIRT', location: 'eu', stocked: 5 },
    { sku: 'MUG', location: 'eu', stocked: 2, reserved: 1 },
  ])
  await orders.reserve({
    id: 'order_1',
    location: 'eu',
    lines: [
      { id: 'line_1', itemId: ids.SHIRT.id, quantity: 2 },
      { id: 'line_2', itemId: ids.MUG.id, quantity: 1 },
    ],
  })
  expect(await kit.level('SHIRT', 'eu')).toEqual({ stocked: 5, reserved: 2, incoming: 0, available: 3 })
  expect(await kit.level('MUG', 'eu')).toEqual({ stocked: 2, reserved: 2, incoming: 0, available: 0 })
  await kit.assertInvariants()
})

test('an order it cannot fill reserves nothing', async () => {
  const ids = await kit.seed([
    { sku: 'SHIRT', location: 'eu', stocked: 5 },
    { sku: 'MUG', location: 'eu', stocked: 1 },
  ])
  const order = {
    id: 'order_2',
    location: 'eu',
    lines: [
      { id: 'line_1', itemId: ids.SHIRT.id, quantity: 2 },
      { id: 'line_2', itemId: ids.MUG.id, quantity: 3 },
    ],
  }
  await expect(orders.reserve(order)).rejects.toBeInstanceOf(OutOfStockError)
  expect(await kit.level('SHIRT', 'eu')).toMatchObject({ reserved: 0, available: 5 })
  await kit.assertInvariants()
})

test('fulfilling takes the units out of stock and releases the reservations', async () => {
  const ids = await kit.seed([{ sku: 'SHIRT', location: 'eu', stocked: 5 }])
  const order = { id: 'order_3', location: 'eu', lines: [{ id: 'line_1', itemId: ids.SHIRT.id, quantity: 2 }] }
  await orders.reserve(order)
  await orders.fulfil(order)
  expect(await kit.level('SHIRT', 'eu')).toEqual({ stocked: 3, reserved: 0, incoming: 0, available: 3 })
  await kit.assertInvariants()
})

test('after a lost connection the service reconnects and the order goes through', async () => {
  const ids = await kit.seed([{ sku: 'SHIRT', location: 'eu', stocked: 5 }])
  expect(await kit.faults.dropConnections()).toBeGreaterThan(0)
  await orders.reserve({ id: 'order_1', location: 'eu', lines: [{ id: 'line_1', itemId: ids.SHIRT.id, quantity: 2 }] })
  expect(await kit.level('SHIRT', 'eu')).toMatchObject({ reserved: 2 })
  await kit.assertInvariants()
})
