'use strict'
// Shared by the app's inventory routes (not a route file itself: the router loads only
// files named route.js). Medusa's own @medusajs/inventory keeps no movement ledger and has
// no reconcile, so with INVENTORY_MODULE=medusa these routes answer 501, saying why.
const { MedusaError, Modules } = require('@medusajs/framework/utils')

/**
 * The inventory module service when it has `method`; otherwise sends 501 and returns
 * undefined. Medusa's error types map to 4xx/500 only, so the 501 body is written here,
 * in the shape of Medusa's errors.
 */
function inventoryWith(req, res, method) {
  const inventory = req.scope.resolve(Modules.INVENTORY)
  if (typeof inventory[method] === 'function') return inventory
  res.status(501).json({
    type: 'not_implemented',
    message:
      `The inventory module in use has no ${method}(): ${req.method} ${req.path} needs medusa-inventory-rs/medusa as the inventory module ` +
      "(Medusa's own @medusajs/inventory keeps no stock ledger and has no reconcile).",
  })
  return undefined
}

/** An integer query parameter (`limit`, `offset`) from `min` to `max`, `fallback` when absent; 400 otherwise. */
function intParam(query, name, { fallback, min = 0, max = Number.MAX_SAFE_INTEGER }) {
  const text = query[name]
  if (text === undefined || text === '') return fallback
  const n = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : NaN
  if (!(n >= min && n <= max))
    throw new MedusaError(MedusaError.Types.INVALID_DATA, `${name} must be an integer from ${min} to ${max}`)
  return n
}

module.exports = { inventoryWith, intParam }
