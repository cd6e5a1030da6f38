'use strict'
// GET /admin/inventory-items/:id/movements?limit=&offset=: the item's stock movements
// (the ledger medusa-inventory-rs writes with every change of a level), newest first.
// /admin routes are authenticated by Medusa (an admin user's session or token).
const { inventoryWith, intParam } = require('../../../../inventory-ledger')

exports.GET = async (req, res) => {
  const inventory = inventoryWith(req, res, 'listAndCountInventoryMovements')
  if (!inventory) return
  const limit = intParam(req.query, 'limit', { fallback: 50, max: 1000 })
  const offset = intParam(req.query, 'offset', { fallback: 0 })
  const [movements, count] = await inventory.listAndCountInventoryMovements(
    { inventory_item_id: req.params.id },
    { order: { created_at: 'DESC' }, skip: offset, take: limit },
  )
  res.json({ movements, count, limit, offset })
}
