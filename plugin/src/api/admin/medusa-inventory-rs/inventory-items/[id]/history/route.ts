// GET /admin/medusa-inventory-rs/inventory-items/:id/history?location_id=&limit=500
// Stocked, reserved and available at one location over time, from the ledger: the last
// `limit` movements there in the order they were applied, each a point with the
// quantities after it ({ points: [{ id, created_at, stocked, reserved, available }] }).
import type { MedusaRequest, MedusaResponse } from '@medusajs/framework/http'
import { MedusaError } from '@medusajs/framework/utils'
import { intParam, ledgerInventory, stringParam, type Movement } from '../../../../../../lib/ledger'

const FIELDS = ['stocked_quantity', 'reserved_quantity'] as const

export const GET = async (req: MedusaRequest, res: MedusaResponse) => {
  const inventory = ledgerInventory(req, res)
  if (!inventory) return
  const query = req.query as Record<string, unknown>
  const locationId = stringParam(query, 'location_id')
  if (!locationId) throw new MedusaError(MedusaError.Types.INVALID_DATA, 'location_id is required')
  const limit = intParam(query, 'limit', { fallback: 500, min: 1, max: 10000 })
  const where = { inventory_item_id: req.params.id, location_id: locationId, field: [...FIELDS] }
  const [latest, count] = await inventory.listAndCountInventoryMovements(where, { order: { id: 'DESC' }, take: limit })
  const rows = latest.reverse()
  // Each movement changes one quantity: the other one's value before the window is the
  // resulting of its last earlier movement (0 when there is none).
  const value: Record<string, number> = { stocked_quantity: 0, reserved_quantity: 0 }
  if (rows.length && count > rows.length) {
    for (const field of FIELDS) {
      const [before] = await inventory.listInventoryMovements(
        { ...where, field, id: { $lt: rows[0].id } },
        { order: { id: 'DESC' }, take: 1 },
      )
      if (before) value[field] = Number(before.resulting)
    }
  }
  const points = rows.map((m: Movement) => {
    value[m.field] = Number(m.resulting)
    const stocked = value.stocked_quantity
    const reserved = value.reserved_quantity
    return { id: m.id, created_at: m.created_at, stocked, reserved, available: stocked - reserved }
  })
  res.json({ location_id: locationId, points, count })
}
