// GET /admin/medusa-inventory-rs/inventory-items/:id/verify
// The ledger check of this item's levels: { ok, levels: [{ id, location_id, field,
// quantity, ledger_sum }], scanned } (every page of verifyInventoryLedger for the item).
import type { MedusaRequest, MedusaResponse } from '@medusajs/framework/http'
import { ledgerInventory, type LedgerGap } from '../../../../../../lib/ledger'

export const GET = async (req: MedusaRequest, res: MedusaResponse) => {
  const inventory = ledgerInventory(req, res)
  if (!inventory) return
  const gaps: LedgerGap[] = []
  let scanned = 0
  let after: string | null = null
  do {
    const page = await inventory.verifyInventoryLedger({ inventory_item_id: req.params.id, after })
    gaps.push(...page.levels)
    scanned += page.scanned
    after = page.next
  } while (after !== null)
  const ids = [...new Set(gaps.map((g) => g.id))]
  const levels = ids.length ? await inventory.listInventoryLevels({ id: ids }, { take: ids.length }) : []
  const at = Object.fromEntries(levels.map((l) => [l.id, l.location_id]))
  res.json({
    ok: gaps.length === 0,
    levels: gaps.map((g) => ({ ...g, location_id: at[g.id] ?? null })),
    scanned,
  })
}
