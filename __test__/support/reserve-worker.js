'use strict'
// A separate Node process reserving on one level, for the cross-process test.
// argv: url schema itemId locationId attempts startAt(ms epoch)
const { InventoryService } = require('../..')

async function main() {
  const [url, schema, itemId, locationId, attempts, startAt] = process.argv.slice(2)
  const inventory = await InventoryService.connect({ url, schema, maxConnections: 8 })
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())))
  const results = await Promise.allSettled(
    Array.from({ length: Number(attempts) }, (_, i) =>
      inventory.createReservationItems({
        inventory_item_id: itemId,
        location_id: locationId,
        quantity: 1,
        line_item_id: `proc-${process.pid}-${i}`,
      }),
    ),
  )
  await inventory.close()
  const ok = results.filter((r) => r.status === 'fulfilled').length
  const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason.type)
  process.stdout.write(JSON.stringify({ ok, errors }))
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack))
  process.exit(1)
})
