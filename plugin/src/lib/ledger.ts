// Shared by the plugin's admin routes: the inventory module from the request's
// container (only medusa-inventory-rs/medusa keeps a ledger: anything else is a 501),
// query parameters, and the names the widget shows for location and actor ids.
import type { MedusaRequest, MedusaResponse } from '@medusajs/framework/http'
import { ContainerRegistrationKeys, MedusaError, Modules } from '@medusajs/framework/utils'

/** The parts of medusa-inventory-rs/medusa's service these routes call. */
export type LedgerInventory = {
  listAndCountInventoryMovements(
    filters: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<[Movement[], number]>
  listInventoryMovements(filters: Record<string, unknown>, config: Record<string, unknown>): Promise<Movement[]>
  listInventoryLevels(filters: Record<string, unknown>, config?: Record<string, unknown>): Promise<Level[]>
  verifyInventoryLedger(options: Record<string, unknown>): Promise<LedgerReport>
  reconcile(options: Record<string, unknown>): Promise<Reconciliation>
}

export type Movement = {
  id: string
  inventory_level_id: string
  inventory_item_id: string
  location_id: string
  field: 'stocked_quantity' | 'reserved_quantity' | 'incoming_quantity'
  delta: number
  resulting: number
  reason: string
  method: string
  actor: string | null
  reference: string | null
  created_at: string | Date
}
export type Level = { id: string; location_id: string; inventory_item_id: string }
export type LedgerGap = { id: string; field: string; quantity: number; ledger_sum: number }
export type LedgerReport = { ok: boolean; levels: LedgerGap[]; scanned: number; next: string | null }
export type Reconciliation = {
  levels: Array<Record<string, unknown> & { id: string; location_id: string; fixed: boolean }>
  ledger: Array<LedgerGap & { fixed: boolean }>
  next: string | null
  scanned: number
}

const NEEDS = 'listAndCountInventoryMovements'

/**
 * The inventory module when it is medusa-inventory-rs's; otherwise answers 501 in the
 * shape of Medusa's errors (Medusa's error types map to 4xx/500 only) and returns undefined.
 */
export function ledgerInventory(req: MedusaRequest, res: MedusaResponse): LedgerInventory | undefined {
  const inventory = req.scope.resolve(Modules.INVENTORY) as Partial<LedgerInventory>
  if (typeof inventory[NEEDS] === 'function') return inventory as LedgerInventory
  res.status(501).json({
    type: 'not_implemented',
    message:
      `The inventory module in use has no ${NEEDS}(): ${req.method} ${req.path} needs ` +
      '{ resolve: "medusa-inventory-rs/medusa" } in the modules of medusa-config ' +
      "(Medusa's own @medusajs/inventory keeps no stock ledger).",
  })
  return undefined
}

/** An integer query parameter from `min` to `max`, `fallback` when absent; invalid_data (400) otherwise. */
export function intParam(
  query: Record<string, unknown>,
  name: string,
  { fallback, min = 0, max = Number.MAX_SAFE_INTEGER }: { fallback: number; min?: number; max?: number },
): number {
  const text = query[name]
  if (text === undefined || text === '') return fallback
  const n = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : NaN
  if (!(n >= min && n <= max)) {
    throw new MedusaError(MedusaError.Types.INVALID_DATA, `${name} must be an integer from ${min} to ${max}`)
  }
  return n
}

/** An optional string query parameter (one value). */
export function stringParam(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name]
  if (v === undefined || v === '') return undefined
  if (typeof v !== 'string') throw new MedusaError(MedusaError.Types.INVALID_DATA, `${name} must be one string`)
  return v
}

type Graph = {
  graph(q: { entity: string; fields: string[]; filters: Record<string, unknown> }): Promise<{ data: any[] }>
}

/** `{ [id]: name }` of stock locations, through Medusa's Query (the stock location module). */
export async function locationNames(req: MedusaRequest, ids: string[]): Promise<Record<string, string>> {
  if (ids.length === 0) return {}
  const query = req.scope.resolve(ContainerRegistrationKeys.QUERY) as Graph
  const { data } = await query.graph({ entity: 'stock_location', fields: ['id', 'name'], filters: { id: ids } })
  return Object.fromEntries(data.map((l) => [l.id, l.name]))
}

/** `{ [id]: email }` of the admin users among `ids` (other actors are shown as they are). */
export async function actorNames(req: MedusaRequest, ids: string[]): Promise<Record<string, string>> {
  const users = ids.filter((id) => id.startsWith('user_'))
  if (users.length === 0) return {}
  const query = req.scope.resolve(ContainerRegistrationKeys.QUERY) as Graph
  try {
    const { data } = await query.graph({ entity: 'user', fields: ['id', 'email'], filters: { id: users } })
    return Object.fromEntries(data.map((u) => [u.id, u.email]))
  } catch {
    return {}
  }
}

/** The admin user (or other actor) of an authenticated admin request. */
export function actorOf(req: MedusaRequest): string | undefined {
  const auth = (req as MedusaRequest & { auth_context?: { actor_id?: string } }).auth_context
  return auth?.actor_id || undefined
}

/** The item's levels (live ones) and the names of their locations. */
export async function itemLocations(req: MedusaRequest, inventory: LedgerInventory, itemId: string) {
  const levels = await inventory.listInventoryLevels({ inventory_item_id: itemId }, { take: 1000 })
  const names = await locationNames(req, [...new Set(levels.map((l) => l.location_id))])
  return levels
    .map((l) => ({ id: l.location_id, level_id: l.id, name: names[l.location_id] ?? l.location_id }))
    .sort((a, b) => a.name.localeCompare(b.name))
}
