// POST /admin/medusa-inventory-rs/inventory-items/:id/reconcile  { dry_run?: boolean }
// Reconcile of this item's levels (every page): reserved quantities that drifted from the
// live reservations, and quantities that are not the sum of their movements. A dry run
// writes nothing; otherwise each fix is written with a `reconcile` movement whose actor is
// the admin user who asked. { dry_run, levels, ledger, scanned }.
import type { MedusaRequest, MedusaResponse } from '@medusajs/framework/http'
import { MedusaError } from '@medusajs/framework/utils'
import { actorOf, ledgerInventory, type Reconciliation } from '../../../../../../lib/ledger'

export const POST = async (req: MedusaRequest, res: MedusaResponse) => {
  const inventory = ledgerInventory(req, res)
  if (!inventory) return
  const body = (req.body ?? {}) as Record<string, unknown>
  const dryRun = body.dry_run ?? false
  if (typeof dryRun !== 'boolean') throw new MedusaError(MedusaError.Types.INVALID_DATA, 'dry_run must be a boolean')
  const out: Omit<Reconciliation, 'next'> = { levels: [], ledger: [], scanned: 0 }
  let after: string | null = null
  do {
    const page: Reconciliation = await inventory.reconcile({
      dryRun,
      after,
      inventory_item_id: req.params.id,
      actor: actorOf(req) ?? null,
    })
    out.levels.push(...page.levels)
    out.ledger.push(...page.ledger)
    out.scanned += page.scanned
    after = page.next
  } while (after !== null)
  res.json({ dry_run: dryRun, ...out })
}
