// GET /admin/medusa-inventory-rs/inventory-items/:id/movements?limit=20&offset=0&location_id=
// The item's movements from the ledger, newest first, one page: { movements, count, limit,
// offset, locations, location_names, actor_names }.
import type { MedusaRequest, MedusaResponse } from '@medusajs/framework/http'
import {
  actorNames,
  intParam,
  itemLocations,
  ledgerInventory,
  locationNames,
  stringParam,
} from '../../../../../../lib/ledger'

export const GET = async (req: MedusaRequest, res: MedusaResponse) => {
  const inventory = ledgerInventory(req, res)
  if (!inventory) return
  const query = req.query as Record<string, unknown>
  const limit = intParam(query, 'limit', { fallback: 20, min: 1, max: 1000 })
  const offset = intParam(query, 'offset', { fallback: 0 })
  const locationId = stringParam(query, 'location_id')
  const filters: Record<string, unknown> = { inventory_item_id: req.params.id }
  if (locationId) filters.location_id = locationId
  const [movements, count] = await inventory.listAndCountInventoryMovements(filters, {
    order: { id: 'DESC' },
    skip: offset,
    take: limit,
  })
  const locations = await itemLocations(req, inventory, req.params.id)
  // Movements may name locations the item has no live level at any more.
  const known = new Set(locations.map((l) => l.id))
  const other = [...new Set(movements.map((m) => m.location_id))].filter((id) => !known.has(id))
  const names = {
    ...Object.fromEntries(locations.map((l) => [l.id, l.name])),
    ...(await locationNames(req, other)),
  }
  const actors = await actorNames(req, [...new Set(movements.flatMap((m) => (m.actor ? [m.actor] : [])))])
  res.json({ movements, count, limit, offset, locations, location_names: names, actor_names: actors })
}
