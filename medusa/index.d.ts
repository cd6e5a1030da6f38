// `medusa-inventory-rs/medusa`: the module definition for Modules.INVENTORY.
import type { IInventoryService, ModuleJoinerConfig } from '@medusajs/types'
import type {
  CallOptions,
  InventoryLevelDTO,
  InventoryStats,
  InventoryMovementDTO,
  InventoryMovementFeedEntry,
  LedgerReport,
  MovementConfig,
  MovementFeedOptions,
  MovementFilters,
  ReconcileOptions,
  Reconciliation,
  SetInventoryQuantityInput,
} from '../lib/index'

/** The service Medusa resolves for Modules.INVENTORY: implements IInventoryService. */
export declare class InventoryModuleService implements Pick<IInventoryService, keyof IInventoryService> {
  /** Not part of IInventoryService: finds, and unless `dryRun` fixes, one page of levels whose reserved quantity drifted from their live reservations. */
  reconcile(options?: ReconcileOptions): Promise<Reconciliation>
  /** Not part of IInventoryService: ledger retention (folds old movements into `carried_forward` ones). */
  prune(options: { movementRetentionDays: number }): Promise<{ folded: number; carried: number; keys: number }>
  /** Not part of IInventoryService: the pool's, the core's and this process's call numbers, as the metrics carry them. */
  stats(): InventoryStats
  // This module's own methods (the ledger, cycle counts); the shared context's `inventory` carries CallOptions.
  listInventoryMovements(
    filters?: MovementFilters,
    config?: MovementConfig,
    context?: { inventory?: CallOptions },
  ): Promise<InventoryMovementDTO[]>
  listAndCountInventoryMovements(
    filters?: MovementFilters,
    config?: MovementConfig,
    context?: { inventory?: CallOptions },
  ): Promise<[InventoryMovementDTO[], number]>
  listInventoryMovementFeed(
    options?: MovementFeedOptions,
    context?: { inventory?: CallOptions },
  ): Promise<InventoryMovementFeedEntry[]>
  verifyInventoryLedger(
    options?: { after?: string | null; limit?: number; inventory_item_id?: string | null },
    context?: { inventory?: CallOptions },
  ): Promise<LedgerReport>
  setInventoryQuantities(
    input: SetInventoryQuantityInput[],
    context?: { inventory?: CallOptions },
  ): Promise<InventoryLevelDTO[]>
}
export interface InventoryModuleService extends IInventoryService {}

export declare const joinerConfig: ModuleJoinerConfig

/** Who and why, for the ledger: the defaults of the module's writes made inside `fn` (asynchronously too), unless the call's `context.inventory` names its own. */
export interface LedgerContext {
  actor?: string
  reason?: string
  reference?: string
}
/** Runs `fn` with `ctx` as the ambient ledger context of this module's writes; returns what `fn` returns. */
export declare function runWithLedgerContext<T>(ctx: LedgerContext, fn: () => T): T

declare const definition: {
  service: typeof InventoryModuleService
  loaders: Array<(args: { container: unknown; options?: Record<string, unknown> }) => Promise<void>>
  linkable: Record<'inventoryItem' | 'inventoryLevel' | 'reservationItem', Record<string, unknown>>
  runMigrations(args?: { options?: Record<string, unknown>; logger?: unknown }): Promise<unknown[]>
  revertMigration(args?: { options?: Record<string, unknown>; logger?: unknown }): Promise<void>
}
export default definition
