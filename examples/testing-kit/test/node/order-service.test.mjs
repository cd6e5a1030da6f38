// node:test, as an ES module. No global setup: with DATABASE_URL unset, the kit starts an
// embedded Postgres in this process on first use and stops it when the process exits
// (node --test runs each file in a process of its own: one server per file).
import { test, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
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
  assert.deepEqual(await kit.level('SHIRT', 'eu'), { stocked: 5, reserved: 2, incoming: 0, available: 3 })
  assert.deepEqual(await kit.level('MUG', 'eu'), { stocked: 2, reserved: 2, incoming: 0, available: 0 })
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
  await assert.rejects(orders.reserve(order), OutOfStockError)
  assert.equal((await kit.level('SHIRT', 'eu')).reserved, 0)
  await kit.assertInvariants()
})

test('fulfilling takes the units out of stock and releases the reservations', async () => {
  const ids = await kit.seed([{ sku: 'SHIRT', location: 'eu', stocked: 5 }])
  const order = { id: 'order_3', location: 'eu', lines: [{ id: 'line_1', itemId: ids.SHIRT.id, quantity: 2 }] }
  await orders.reserve(order)
  await orders.fulfil(order)
  assert.deepEqual(await kit.level('SHIRT', 'eu'), { stocked: 3, reserved: 0, incoming: 0, available: 3 })
  await kit.assertInvariants()
})

test('two orders racing for the last unit in one reservation group: exactly one gets it', async () => {
  const raced = await createTestInventory({ groupReservations: { forceGroupOf: 2 } })
  try {
    const racing = new OrderService(raced.inventory)
    const ids = await raced.seed([{ sku: 'LAST', location: 'eu', stocked: 1 }])
    const order = (n) => ({ id: `o${n}`, location: 'eu', lines: [{ id: `l${n}`, itemId: ids.LAST.id, quantity: 1 }] })
    const results = await Promise.allSettled([racing.reserve(order(1)), racing.reserve(order(2))])
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    assert.ok(results.find((r) => r.status === 'rejected').reason instanceof OutOfStockError)
    assert.deepEqual(await raced.level('LAST', 'eu'), { stocked: 1, reserved: 1, incoming: 0, available: 0 })
    await raced.assertInvariants()
  } finally {
    await raced.cleanup()
  }
})
