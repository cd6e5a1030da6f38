'use strict'
// A shop's own workflow that reserves stock, tested without a Medusa server: Medusa's
// reserveInventoryStep (from @medusajs/core-flows, as in Medusa's checkout) and a payment step
// of the shop's, run on the inventory module (medusa-inventory-rs/medusa) and Medusa's locking
// module, loaded by initModules from @medusajs/test-utils. The lighter equivalent of
// medusaIntegrationTestRunner: two modules, not a whole application.
// Medusa's logger reads LOG_LEVEL when first loaded: only errors in the test output.
process.env.LOG_LEVEL ??= 'error'
const { initModules } = require('@medusajs/test-utils')
const { ContainerRegistrationKeys, Modules } = require('@medusajs/framework/utils')
const { logger } = require('@medusajs/framework/logger')
const { createStep, createWorkflow, StepResponse, WorkflowResponse } = require('@medusajs/framework/workflows-sdk')
const { reserveInventoryStep } = require('@medusajs/core-flows')
const { medusaModuleRunnerOptions } = require('medusa-inventory-rs/testing')

const chargePaymentStep = createStep('test-charge-payment', async (input) => {
  if (input.decline) throw new Error('card declined')
  return new StepResponse({ charged: true })
})

const placeOrderWorkflow = createWorkflow('test-place-order', (input) => {
  const reservations = reserveInventoryStep({ items: input.items })
  chargePaymentStep(input)
  return new WorkflowResponse(reservations)
})

const inventoryModule = medusaModuleRunnerOptions()
let app

beforeEach(async () => {
  await inventoryModule.resetSchema()
  app = await initModules({
    modulesConfig: {
      [Modules.INVENTORY]: { resolve: inventoryModule.resolve, options: inventoryModule.moduleOptions },
      [Modules.LOCKING]: { resolve: '@medusajs/locking' },
    },
    databaseConfig: inventoryModule.moduleOptions.database,
    // The locking module logs which provider it uses.
    injectedDependencies: { [ContainerRegistrationKeys.LOGGER]: logger },
  })
})

afterEach(async () => {
  await app?.shutdown()
})

async function stockedItem(stocked) {
  const inventory = app.medusaApp.modules[Modules.INVENTORY]
  const item = await inventory.createInventoryItems({ sku: `SKU-${stocked}` })
  await inventory.createInventoryLevels({
    inventory_item_id: item.id,
    location_id: 'sloc_eu',
    stocked_quantity: stocked,
  })
  return { inventory, item }
}

const line = (item, quantity) => ({
  id: `line_${quantity}`,
  inventory_item_id: item.id,
  required_quantity: 1,
  quantity,
  allow_backorder: false,
  location_ids: ['sloc_eu'],
})

test('an order reserves its lines', async () => {
  const { inventory, item } = await stockedItem(5)
  const { result, errors } = await placeOrderWorkflow(app.medusaApp.sharedContainer).run({
    input: { items: [line(item, 2)] },
    throwOnError: false,
  })
  expect(errors).toEqual([])
  expect(result).toHaveLength(1)
  expect(Number(await inventory.retrieveAvailableQuantity(item.id, ['sloc_eu']))).toBe(3)
  const [reservation] = await inventory.listReservationItems({ inventory_item_id: item.id })
  expect(reservation).toMatchObject({ line_item_id: 'line_2', location_id: 'sloc_eu' })
  expect(Number(reservation.quantity)).toBe(2)
})

test('a declined payment compensates: the reservation is deleted and the stock is available again', async () => {
  const { inventory, item } = await stockedItem(5)
  const { errors } = await placeOrderWorkflow(app.medusaApp.sharedContainer).run({
    input: { items: [line(item, 2)], decline: true },
    throwOnError: false,
  })
  expect(errors.map((e) => e.error.message)).toEqual(['card declined'])
  expect(await inventory.listReservationItems({ inventory_item_id: item.id })).toEqual([])
  const [level] = await inventory.listInventoryLevels({ inventory_item_id: item.id })
  expect(Number(level.reserved_quantity)).toBe(0)
  expect(Number(await inventory.retrieveAvailableQuantity(item.id, ['sloc_eu']))).toBe(5)
})

test('an order beyond the stock fails in the reserve step, before any payment', async () => {
  const { inventory, item } = await stockedItem(1)
  const { errors } = await placeOrderWorkflow(app.medusaApp.sharedContainer).run({
    input: { items: [line(item, 2)] },
    throwOnError: false,
  })
  expect(errors).toHaveLength(1)
  expect(errors[0].action).toBe('reserve-inventory-step')
  expect(errors[0].error.type).toBe('not_allowed')
  expect(await inventory.listReservationItems({ inventory_item_id: item.id })).toEqual([])
})
