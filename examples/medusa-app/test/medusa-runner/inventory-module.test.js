'use strict'
// Medusa's own module test runner (@medusajs/test-utils) on medusa-inventory-rs: the recipe of
// docs/testing-kit.md, as a Medusa developer writes it. The module is loaded by Medusa's loader
// from `resolve: 'medusa-inventory-rs/medusa'`; the kit gives it a schema migrated per test.
const { moduleIntegrationTestRunner } = require('@medusajs/test-utils')
const { MedusaError } = require('@medusajs/framework/utils')
const { medusaModuleRunnerOptions } = require('medusa-inventory-rs/testing')
const { Client } = require('pg')

const options = medusaModuleRunnerOptions()
const { clientUrl, schema } = options.moduleOptions.database

async function sql(text, params) {
  const c = new Client({ connectionString: clientUrl })
  await c.connect()
  try {
    await c.query(`SET search_path TO "${schema}"`)
    return (await c.query(text, params)).rows
  } finally {
    await c.end()
  }
}

moduleIntegrationTestRunner({
  ...options,
  testSuite: ({ service }) => {
    it('is this package’s module, on its own migrated schema', async () => {
      expect(service.constructor.name).toBe('InventoryModuleService')
      const tables = await sql('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema])
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['inventory_item', 'inventory_level', 'reservation_item']),
      )
    })

    it('reserves stock and counts it against availability', async () => {
      const item = await service.createInventoryItems({ sku: 'SHIRT' })
      await service.createInventoryLevels({ inventory_item_id: item.id, location_id: 'sloc_eu', stocked_quantity: 5 })
      await service.createReservationItems({
        inventory_item_id: item.id,
        location_id: 'sloc_eu',
        quantity: 2,
        line_item_id: 'line_1',
      })
      // Medusa returns quantities as BigNumber, as its own module does.
      expect(Number(await service.retrieveAvailableQuantity(item.id, ['sloc_eu']))).toBe(3)
      expect(await service.confirmInventory(item.id, ['sloc_eu'], 3)).toBe(true)
      expect(await service.confirmInventory(item.id, ['sloc_eu'], 4)).toBe(false)
    })

    it('starts each test on an empty schema (the last test’s SHIRT is gone)', async () => {
      expect(await service.listInventoryItems({ sku: 'SHIRT' })).toEqual([])
      expect((await sql('SELECT count(*)::int AS n FROM reservation_item'))[0].n).toBe(0)
    })

    it('refuses a reservation beyond availability with Medusa’s error type, writing nothing', async () => {
      const item = await service.createInventoryItems({ sku: 'MUG' })
      await service.createInventoryLevels({ inventory_item_id: item.id, location_id: 'sloc_eu', stocked_quantity: 1 })
      const refusal = await service
        .createReservationItems({ inventory_item_id: item.id, location_id: 'sloc_eu', quantity: 2 })
        .then(
          () => null,
          (e) => e,
        )
      expect(refusal).toBeInstanceOf(Error)
      expect(refusal.type).toBe(MedusaError.Types.NOT_ALLOWED)
      const [level] = await sql('SELECT reserved_quantity::int AS reserved FROM inventory_level')
      expect(level.reserved).toBe(0)
    })
  },
})
