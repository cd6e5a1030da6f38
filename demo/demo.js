'use strict'
// Plays the inventory lifecycle a Medusa backend drives, on real Postgres
// (DATABASE_URL, or the embedded one started by scripts/with-db.mjs).
const { InventoryService } = require('..')

const SCHEMA = 'inventory_demo'
const EU = 'sloc_warehouse_eu'
const US = 'sloc_warehouse_us'

async function showLevels(inventory, title, itemIds) {
  const levels = await inventory.listInventoryLevels(
    { inventory_item_id: itemIds },
    { relations: ['inventory_item'], order: { location_id: 'ASC' } },
  )
  console.log(`\n== ${title}`)
  console.table(
    levels.map((l) => ({
      sku: l.inventory_item.sku,
      location: l.location_id,
      stocked: l.stocked_quantity,
      reserved: l.reserved_quantity,
      available: l.available_quantity,
      incoming: l.incoming_quantity,
    })),
  )
}

/** The movements of an item at a location, oldest first, as a small table. */
async function showMovements(inventory, title, itemId, locationId) {
  const moves = await inventory.listInventoryMovements(
    { inventory_item_id: itemId, location_id: locationId },
    { order: { id: 'ASC' } },
  )
  console.log(`\n== ${title}`)
  console.table(
    moves.map((m) => ({
      field: m.field.replace('_quantity', ''),
      delta: m.delta,
      after: m.resulting,
      reason: m.reason,
      method: m.method,
      actor: m.actor ?? '',
      reference: m.reference ?? '',
      'line item': m.line_item_id ?? '',
    })),
  )
}

async function main() {
  const url = process.env.DATABASE_URL
  const inventory = await InventoryService.connect({ url, schema: SCHEMA })
  // Start from an empty demo schema every run.
  await inventory.migrate()
  await inventory.deleteInventoryItems((await inventory.listInventoryItems({}, { select: ['id'] })).map((i) => i.id))

  console.log('1. A variant with managed inventory is created → Medusa creates its inventory item')
  const shirt = await inventory.createInventoryItems({
    sku: 'TSHIRT-BLUE-M',
    title: 'Blue T-shirt, M',
    hs_code: '6109.10',
    origin_country: 'pt',
    weight: 180,
  })
  console.log(`   ${shirt.id} (${shirt.sku})`)

  console.log('2. The admin sets stock at two locations')
  await inventory.createInventoryLevels([
    { inventory_item_id: shirt.id, location_id: EU, stocked_quantity: 8 },
    { inventory_item_id: shirt.id, location_id: US, stocked_quantity: 4, incoming_quantity: 10 },
  ])
  await showLevels(inventory, 'stock set', [shirt.id])

  console.log('\n3. A cart in a sales channel served by both locations asks for 3 shirts')
  const channelLocations = [EU, US]
  const available = await inventory.retrieveAvailableQuantity(shirt.id, channelLocations)
  const ok = await inventory.confirmInventory(shirt.id, channelLocations, 3)
  console.log(`   available over the channel: ${available}; confirmInventory(3) → ${ok}`)
  console.log(`   confirmInventory(13) → ${await inventory.confirmInventory(shirt.id, channelLocations, 13)}`)

  console.log('4. The order is placed → one reservation per line item, at the channel’s first location')
  const reservations = await inventory.createReservationItems(
    [
      { inventory_item_id: shirt.id, location_id: channelLocations[0], quantity: 3, line_item_id: 'ordli_1' },
      { inventory_item_id: shirt.id, location_id: channelLocations[0], quantity: 1, line_item_id: 'ordli_2' },
    ],
    { reference: 'order_1001' },
  ) // the call's options: recorded in the ledger (section 7)
  console.log(`   reserved: ${reservations.map((r) => `${r.line_item_id}×${r.quantity}`).join(', ')}`)
  await showLevels(inventory, 'order placed', [shirt.id])

  console.log('\n5. Line item ordli_1 is fulfilled → stocked and reserved go down, its reservation is removed')
  await inventory.adjustInventory(shirt.id, EU, -3, { reason: 'fulfilled', reference: 'order_1001' })
  await inventory.deleteReservationItemsByLineItem('ordli_1', { reason: 'fulfilled', reference: 'order_1001' })
  await showLevels(inventory, 'fulfilled', [shirt.id])

  console.log('\n6. The customer returns one shirt → stocked goes up')
  await inventory.adjustInventory(shirt.id, EU, 1, { reason: 'returned', reference: 'return_77' })
  await showLevels(inventory, 'returned', [shirt.id])

  console.log('\n7. The ledger: every change of a level is recorded with why, who and what for')
  const stockedAt = async (loc) =>
    (await inventory.retrieveInventoryLevelByItemAndLocation(shirt.id, loc)).stocked_quantity
  // A goods receipt keyed by its purchase order line: the retry after a lost reply applies nothing.
  const receipt = {
    reason: 'received',
    actor: 'user_warehouse',
    reference: 'po_1042',
    idempotencyKey: `po_1042:${shirt.id}`,
  }
  const before = await stockedAt(EU)
  await inventory.adjustInventory(shirt.id, EU, 12, receipt)
  await inventory.adjustInventory(shirt.id, EU, 12, receipt)
  const received = await stockedAt(EU)
  console.log(`   PO 1042 received twice with one idempotency key: stocked ${before} → ${received} (applied once)`)
  // A cycle count sets the stock it found, only if the level still holds what the count started from.
  await inventory.setInventoryQuantities(
    [
      {
        inventory_item_id: shirt.id,
        location_id: EU,
        stocked_quantity: received - 1,
        expected_stocked_quantity: received,
      },
    ],
    { actor: 'user_counter', reference: 'count_2026_11' },
  )
  console.log(`   cycle count: ${received - 1} found where ${received} was expected → stocked ${await stockedAt(EU)}`)
  // A second count, started before the first was saved, is refused instead of overwriting it.
  const stale = await inventory
    .updateInventoryLevels({
      inventory_item_id: shirt.id,
      location_id: EU,
      stocked_quantity: 40,
      expected_stocked_quantity: received,
    })
    .then(
      () => null,
      (e) => e,
    )
  console.log(
    `   stale count (expected ${received}, set 40) → ${stale ? `${stale.type} ${stale.code}: ${stale.message}` : 'applied!'}`,
  )
  await showMovements(inventory, `movements of ${shirt.sku} at ${EU}`, shirt.id, EU)
  const ledger = await inventory.verifyInventoryLedger()
  const recon = await inventory.reconcile({ dryRun: true })
  console.log(
    `\n   verifyInventoryLedger → ok: ${ledger.ok} (${ledger.scanned} levels); reconcile dry run → ${recon.levels.length} drifted, ${recon.ledger.length} ledger gaps`,
  )
  const ledgerOk =
    received === before + 12 &&
    stale?.code === 'COMPARE_QUANTITY_STALE' &&
    ledger.ok &&
    !recon.levels.length &&
    !recon.ledger.length

  console.log('\n8. A limited drop: 20 buyers at once for the last 5 units')
  const drop = await inventory.createInventoryItems({ sku: 'SNEAKER-LIMITED', title: 'Limited sneaker' })
  await inventory.createInventoryLevels({ inventory_item_id: drop.id, location_id: EU, stocked_quantity: 5 })
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      inventory.createReservationItems({
        inventory_item_id: drop.id,
        location_id: EU,
        quantity: 1,
        line_item_id: `buyer_${i + 1}`,
      }),
    ),
  )
  const won = results.filter((r) => r.status === 'fulfilled').length
  const refused = results.filter((r) => r.status === 'rejected')
  const live = await inventory.listReservationItems({ inventory_item_id: drop.id })
  console.log(
    `   ${won} reservations made, ${refused.length} refused (${refused[0]?.reason.type}: ${refused[0]?.reason.message})`,
  )
  await showLevels(inventory, 'after the rush', [drop.id])

  await inventory.close()
  if (won !== 5 || live.length !== 5) {
    console.error(`\nexpected exactly 5 reservations, got ${won} (live: ${live.length})`)
    process.exit(1)
  }
  if (!ledgerOk) {
    console.error(
      '\nthe ledger section did not go as shown: the retry applied twice, the stale count went through, or the ledger disagrees with the levels',
    )
    process.exit(1)
  }
  console.log('\nExactly 5 of 20 buyers got the last 5 units; reserved_quantity = 5 = live reservations.')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
