'use strict'
// runWithLedgerContext (medusa-inventory-rs/medusa): the ambient who and why of the ledger.
// The plugin's middleware runs Medusa's admin level routes inside it, so writes that
// Medusa's workflows make without a context.inventory name the admin user and "admin".
const { freshService } = require('./helpers')
const { InventoryModuleService, runWithLedgerContext } = require('../medusa')

let t
let service
beforeEach(async () => {
  t = await freshService('alsctx')
  service = new InventoryModuleService({ medusaInventoryRsConnection: t.inventory }, {})
})
afterEach(() => t.cleanup())

const history = async (id) =>
  (await service.listInventoryMovements({ inventory_item_id: id }, { order: { id: 'ASC' } })).map((m) => [
    m.reason,
    m.actor,
    m.delta,
  ])

test('writes inside it (also after awaits and timers) take its actor and reason; context.inventory wins; outside, nothing', async () => {
  const it = await service.createInventoryItems({ sku: 'ledger-als' })
  await runWithLedgerContext({ actor: 'user_admin_1', reason: 'admin' }, async () => {
    await service.createInventoryLevels({ inventory_item_id: it.id, location_id: 'als_loc', stocked_quantity: 4 })
    await new Promise((r) => setTimeout(r, 1))
    await service.adjustInventory(it.id, 'als_loc', 2, { inventory: { reason: 'received' } })
    await service.updateInventoryLevels([{ inventory_item_id: it.id, location_id: 'als_loc', stocked_quantity: 9 }], {
      inventory: { actor: 'someone_else' },
    })
  })
  await service.adjustInventory(it.id, 'als_loc', -1)
  expect(await history(it.id)).toEqual([
    ['admin', 'user_admin_1', 4],
    ['received', 'user_admin_1', 2],
    ['admin', 'someone_else', 3],
    ['adjustment', null, -1],
  ])
})

test('a nested run replaces the outer one; its return value is passed through; bad values are refused', async () => {
  const it = await service.createInventoryItems({ sku: 'ledger-als-nested' })
  await service.createInventoryLevels({ inventory_item_id: it.id, location_id: 'n_loc', stocked_quantity: 1 })
  const out = await runWithLedgerContext({ actor: 'outer' }, () =>
    runWithLedgerContext({ reason: 'inner' }, () => service.adjustInventory(it.id, 'n_loc', 1)),
  )
  expect(out.stocked_quantity).toBe(2)
  expect((await history(it.id)).at(-1)).toEqual(['inner', null, 1])
  expect(runWithLedgerContext({ actor: null }, () => 7)).toBe(7)
  expect(() => runWithLedgerContext({ actor: 7 }, () => {})).toThrow('runWithLedgerContext: actor must be a string')
  expect(() => runWithLedgerContext({}, null)).toThrow(TypeError)
})
