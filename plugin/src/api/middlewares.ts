// Medusa's own admin routes that write inventory levels (the inventory item page's
// location-levels form and the bulk stock editor) run inside medusa-inventory-rs's
// ambient ledger context: the movements they write name the admin user as actor and
// "admin" as reason (a call's own context.inventory still wins).
import type { MedusaNextFunction, MedusaRequest, MedusaResponse } from '@medusajs/framework/http'
import { defineMiddlewares } from '@medusajs/framework/http'

type LedgerContext = { actor?: string; reason?: string }
type RunWithLedgerContext = <T>(ctx: LedgerContext, fn: () => T) => T

// The package's own Medusa module (a self-reference from inside the installed package):
// the same ambient store its service reads. Loaded on first use, so a route that never
// writes does not load it.
let run: RunWithLedgerContext | undefined
function runWithLedgerContext(): RunWithLedgerContext {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run ??= (require('medusa-inventory-rs/medusa') as { runWithLedgerContext: RunWithLedgerContext }).runWithLedgerContext
  return run
}

/** Runs the rest of the request (Medusa's route and its workflow) with the admin as the ledger's actor. */
export function adminLedgerContext(req: MedusaRequest, _res: MedusaResponse, next: MedusaNextFunction) {
  const actor = (req as MedusaRequest & { auth_context?: { actor_id?: string } }).auth_context?.actor_id
  runWithLedgerContext()({ reason: 'admin', ...(actor ? { actor } : {}) }, () => next())
}

const LEVEL_ROUTES = [
  '/admin/inventory-items/:id/location-levels',
  '/admin/inventory-items/:id/location-levels/batch',
  '/admin/inventory-items/:id/location-levels/:location_id',
  '/admin/inventory-items/location-levels/batch',
]

export default defineMiddlewares({
  routes: LEVEL_ROUTES.map((matcher) => ({
    matcher,
    methods: ['POST', 'DELETE'],
    middlewares: [adminLedgerContext],
  })),
})
