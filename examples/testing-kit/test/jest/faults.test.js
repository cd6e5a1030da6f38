// Jest, a second file (its own worker when Jest runs files in parallel): the kit's fault hooks.
const { createTestInventory } = require('medusa-inventory-rs/testing')
const { OrderService, OutOfStockError } = require('../../order-service')

let kit
afterEach(() => kit.cleanup())

test('two orders racing for the last unit in one reservation group: exactly one gets it', async () => {
  // A test hook of the module: reservation calls wait until 2 are queued and commit as one group.
  kit = await createTestInventory({ groupReservations: { forceGroupOf: 2 } })
  const orders = new OrderService(kit.inventory)
  const ids = await kit.seed([{ sku: 'LAST', location: 'eu', stocked: 1 }])
  const order = (n) => ({
    id: `order_${n}`,
    location: 'eu',
    lines: [{ id: `line_${n}`, itemId: ids.LAST.id, quantity: 1 }],
  })
  const results = await Promise.allSettled([orders.reserve(order(1)), orders.reserve(order(2))])
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
  expect(results.find((r) => r.status === 'rejected').reason).toBeInstanceOf(OutOfStockError)
  expect(kit.inventory.stats().groups.largest).toBe(2)
  expect(await kit.level('LAST', 'eu')).toMatchObject({ reserved: 1, available: 0 })
  await kit.assertInvariants()
})

test('after a lost connection the service reconnects and the order goes through', async () => {
  kit = await createTestInventory()
  const orders = new OrderService(kit.inventory)
  const ids = await kit.seed([{ sku: 'SHIRT', location: 'eu', stocked: 5 }])
  expect(await kit.faults.dropConnections()).toBeGreaterThan(0)
  await orders.reserve({ id: 'order_1', location: 'eu', lines: [{ id: 'line_1', itemId: ids.SHIRT.id, quantity: 2 }] })
  expect(await kit.level('SHIRT', 'eu')).toMatchObject({ reserved: 2 })
  await kit.assertInvariants()
})
