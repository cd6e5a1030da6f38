'use strict'
// GET /admin/inventory-reconcile?after=&limit=: a reconcile dry run over one page of live
// levels: those whose reserved_quantity is not the sum of their live reservations, and
// (`ledger`) quantities that are not the sum of their movements. Reads only; fixing is
// `npx medusa-inventory-rs reconcile` (or the module's reconcile()).
const { inventoryWith, intParam } = require('../../inventory-ledger')

exports.GET = async (req, res) => {
  const inventory = inventoryWith(req, res, 'reconcile')
  if (!inventory) return
  const limit = intParam(req.query, 'limit', { fallback: 1000, min: 1, max: 10000 })
  const after = typeof req.query.after === 'string' && req.query.after !== '' ? req.query.after : null
  const { levels, ledger, next, scanned } = await inventory.reconcile({ dryRun: true, after, limit })
  res.json({ levels, ledger, next, scanned })
}
