'use strict'
// The operations of the round-trip count and the latency bench (../rtt.js):
// every operation of ops.js, plus the calls Medusa's checkout and order
// workflows (@medusajs/core-flows 2.21.2) make that ops.js does not:
//
//   cart completion   confirmInventoryStep      confirmInventory(item, [loc], qty)     (= ops.js confirmInventory)
//                     reserveInventoryStep      createReservationItems(lines)          (= ops.js createReservationItems)
//   fulfilment        createOrderFulfillmentWorkflow: the reservations of the lines
//                     (useRemoteQueryStep 'reservations' → listReservationItems({ line_item_id })),
//                     adjustInventoryLevelsStep → adjustInventory([{ inventoryItemId, locationId, adjustment: -q }]),
//                     deleteReservationsStep → softDeleteReservationItems([ids]) (a fully fulfilled line)
//   return received   confirmReturnReceiveWorkflow: adjustInventoryLevelsStep → adjustInventory([{ …, adjustment: +q }])
//
// reserveInventoryStep and adjustInventoryLevelsStep run their call inside
// locking.execute (the Locking module's in-memory provider by default: no
// database traffic), which is left out here.
const { OPS, LOCATIONS, reservationsFor, createReservations } = require('./ops')

const FULFIL_SELECT = ['id', 'line_item_id', 'quantity', 'inventory_item_id', 'location_id']

/** Reservations of one line each at LOCATIONS[3], for the fulfilment steps (not timed). */
async function fulfilPrepare(svc, n, env, prefix) {
  const rows = reservationsFor(env, n, `${prefix}${env.round}`, LOCATIONS[3])
  const made = await createReservations(svc, rows)
  return { rows, ids: made.map((r) => r.id) }
}

const EXTRA_OPS = [
  {
    key: 'listReservationItems_line',
    label: 'listReservationItems (line_item_id, fulfilment read)',
    kind: 'read',
    prepare: (svc, n, env) => fulfilPrepare(svc, n, env, 'frd'),
    call: (svc, ctx, i) =>
      svc.listReservationItems({ line_item_id: [ctx.rows[i].line_item_id] }, { select: FULFIL_SELECT }),
  },
  {
    key: 'adjustInventory_batch',
    label: 'adjustInventory ([1], adjustInventoryLevelsStep form)',
    kind: 'write',
    prepare: async (_svc, _n, env) => ({ item: env.items[0] }),
    call: (svc, ctx, i) =>
      svc.adjustInventory([{ inventoryItemId: ctx.item, locationId: LOCATIONS[3], adjustment: i % 2 ? 1 : -1 }]),
  },
  {
    key: 'softDeleteReservationItems',
    label: 'softDeleteReservationItems ([1])',
    kind: 'write',
    prepare: (svc, n, env) => fulfilPrepare(svc, n, env, 'fsd'),
    call: (svc, ctx, i) => svc.softDeleteReservationItems([ctx.ids[i]]),
  },
  {
    key: 'checkout_fulfilment',
    label: 'checkout: fulfil 1 line (list + adjust + softDelete)',
    kind: 'checkout',
    prepare: (svc, n, env) => fulfilPrepare(svc, n, env, 'ful'),
    call: async (svc, ctx, i) => {
      const [r] = await svc.listReservationItems(
        { line_item_id: [ctx.rows[i].line_item_id] },
        { select: FULFIL_SELECT },
      )
      await svc.adjustInventory([{ inventoryItemId: r.inventory_item_id, locationId: r.location_id, adjustment: -1 }])
      await svc.softDeleteReservationItems([r.id])
    },
  },
  {
    key: 'checkout_return',
    label: 'checkout: return received (adjustInventory [+1])',
    kind: 'checkout',
    prepare: async (_svc, _n, env) => ({ item: env.items[1 % env.items.length] }),
    call: (svc, ctx) => svc.adjustInventory([{ inventoryItemId: ctx.item, locationId: LOCATIONS[3], adjustment: 1 }]),
  },
]

const RTT_OPS = [...OPS, ...EXTRA_OPS]

// The checkout rows of the table: which measured operation each step is.
const CHECKOUT = [
  { step: 'checkout: confirm (confirmInventory, per line)', op: 'confirmInventory' },
  { step: 'checkout: reserve (createReservationItems, 1 line)', op: 'createReservationItems_1' },
  { step: 'checkout: reserve (createReservationItems, 10 lines)', op: 'createReservationItems_10' },
  { step: 'checkout: fulfil 1 line (list + adjustInventory + softDelete)', op: 'checkout_fulfilment' },
  { step: 'checkout: return received (adjustInventory)', op: 'checkout_return' },
]

module.exports = { RTT_OPS, EXTRA_OPS, CHECKOUT, FULFIL_SELECT }
