// `medusa-inventory-rs/medusa-v1`: the module for Medusa v1's `modules.inventoryService`,
// with the shapes of IInventoryService in @medusajs/types 1.11.x (declared here: a v1
// app's @medusajs/types is not this package's).
import type { InventoryItemDTO, InventoryLevelDTO, Metadata, ReservationItemDTO } from '../lib/index'

/** v1's shared context: a TypeORM EntityManager; inside a transaction, the call joins it. */
export interface SharedContextV1 {
  transactionManager?: unknown
  manager?: unknown
}

/** v1's find config (relations are v1's own and ignored). */
export interface FindConfigV1 {
  skip?: number
  /** Default 10; null for all. */
  take?: number | null
  order?: Record<string, 'ASC' | 'DESC'>
  select?: string[]
  relations?: string[]
}

/** A v1 filter value: a value, an array (IN), or v1's operators. */
export type FilterV1<T> =
  | T
  | T[]
  | (T extends string ? { contains?: string; starts_with?: string; ends_with?: string } : never)
  | (T extends number ? { lt?: number; gt?: number; lte?: number; gte?: number } : never)

export type InventoryItemV1 = Omit<InventoryItemDTO, 'unit_of_measure' | 'location_levels' | 'reservation_items'>
export type InventoryLevelV1 = Omit<
  InventoryLevelDTO,
  'raw_stocked_quantity' | 'raw_reserved_quantity' | 'raw_incoming_quantity' | 'inventory_item'
>
export type ReservationItemV1 = Omit<ReservationItemDTO, 'raw_quantity' | 'allow_backorder' | 'inventory_item'>

export interface InventoryItemFiltersV1 {
  id?: FilterV1<string>
  q?: string
  sku?: FilterV1<string>
  origin_country?: FilterV1<string>
  hs_code?: FilterV1<string>
  requires_shipping?: boolean
  /** Items with a level at these locations. */
  location_id?: FilterV1<string>
}
export interface InventoryLevelFiltersV1 {
  id?: FilterV1<string>
  inventory_item_id?: FilterV1<string>
  location_id?: FilterV1<string>
  stocked_quantity?: FilterV1<number>
  reserved_quantity?: FilterV1<number>
  incoming_quantity?: FilterV1<number>
}
export interface ReservationItemFiltersV1 {
  id?: FilterV1<string>
  line_item_id?: FilterV1<string>
  inventory_item_id?: FilterV1<string>
  location_id?: FilterV1<string>
  description?: FilterV1<string>
  created_by?: FilterV1<string>
  quantity?: FilterV1<number>
}

export interface CreateInventoryItemInputV1 {
  sku?: string | null
  origin_country?: string | null
  hs_code?: string | null
  mid_code?: string | null
  material?: string | null
  weight?: number | null
  length?: number | null
  height?: number | null
  width?: number | null
  requires_shipping?: boolean
  title?: string | null
  description?: string | null
  thumbnail?: string | null
  metadata?: Metadata | null
}
export interface CreateInventoryLevelInputV1 {
  inventory_item_id: string
  location_id: string
  stocked_quantity?: number
  incoming_quantity?: number
}
export interface UpdateInventoryLevelInputV1 {
  stocked_quantity?: number
  incoming_quantity?: number
}
export interface CreateReservationItemInputV1 {
  inventory_item_id: string
  location_id: string
  quantity: number
  line_item_id?: string
  description?: string
  created_by?: string
  external_id?: string
  metadata?: Metadata | null
}
export interface UpdateReservationItemInputV1 {
  quantity?: number
  location_id?: string
  description?: string
  metadata?: Metadata | null
}

/** What v1 resolves as `inventoryService`: IInventoryService of @medusajs/types 1.11.x. */
export declare class InventoryServiceV1 {
  constructor(cradle: Record<string, unknown>, options?: Record<string, unknown>, moduleDeclaration?: unknown)
  __joinerConfig(): typeof joinerConfig
  list(selector: InventoryItemFiltersV1, config?: FindConfigV1, context?: SharedContextV1): Promise<InventoryItemV1[]>
  listInventoryItems(
    selector: InventoryItemFiltersV1,
    config?: FindConfigV1,
    context?: SharedContextV1,
  ): Promise<[InventoryItemV1[], number]>
  listInventoryLevels(
    selector: InventoryLevelFiltersV1,
    config?: FindConfigV1,
    context?: SharedContextV1,
  ): Promise<[InventoryLevelV1[], number]>
  listReservationItems(
    selector: ReservationItemFiltersV1,
    config?: FindConfigV1,
    context?: SharedContextV1,
  ): Promise<[ReservationItemV1[], number]>
  retrieveInventoryItem(
    inventoryItemId: string,
    config?: FindConfigV1,
    context?: SharedContextV1,
  ): Promise<InventoryItemV1>
  retrieveInventoryLevel(
    inventoryItemId: string,
    locationId: string,
    context?: SharedContextV1,
  ): Promise<InventoryLevelV1>
  retrieveReservationItem(reservationId: string, context?: SharedContextV1): Promise<ReservationItemV1>
  createReservationItem(input: CreateReservationItemInputV1, context?: SharedContextV1): Promise<ReservationItemV1>
  createReservationItems(input: CreateReservationItemInputV1[], context?: SharedContextV1): Promise<ReservationItemV1[]>
  createInventoryItem(input: CreateInventoryItemInputV1, context?: SharedContextV1): Promise<InventoryItemV1>
  createInventoryItems(input: CreateInventoryItemInputV1[], context?: SharedContextV1): Promise<InventoryItemV1[]>
  createInventoryLevel(input: CreateInventoryLevelInputV1, context?: SharedContextV1): Promise<InventoryLevelV1>
  createInventoryLevels(input: CreateInventoryLevelInputV1[], context?: SharedContextV1): Promise<InventoryLevelV1[]>
  updateInventoryLevels(
    updates: Array<UpdateInventoryLevelInputV1 & { inventory_item_id: string; location_id: string }>,
    context?: SharedContextV1,
  ): Promise<InventoryLevelV1[]>
  updateInventoryLevel(
    inventoryItemId: string,
    locationId: string,
    update: UpdateInventoryLevelInputV1,
    context?: SharedContextV1,
  ): Promise<InventoryLevelV1>
  updateInventoryItem(
    inventoryItemId: string,
    input: CreateInventoryItemInputV1,
    context?: SharedContextV1,
  ): Promise<InventoryItemV1>
  updateReservationItem(
    reservationItemId: string,
    input: UpdateReservationItemInputV1,
    context?: SharedContextV1,
  ): Promise<ReservationItemV1>
  deleteReservationItemsByLineItem(lineItemId: string | string[], context?: SharedContextV1): Promise<void>
  deleteReservationItem(reservationItemId: string | string[], context?: SharedContextV1): Promise<void>
  deleteInventoryItem(inventoryItemId: string | string[], context?: SharedContextV1): Promise<void>
  restoreInventoryItem(inventoryItemId: string | string[], context?: SharedContextV1): Promise<void>
  deleteInventoryItemLevelByLocationId(locationId: string | string[], context?: SharedContextV1): Promise<void>
  deleteReservationItemByLocationId(locationId: string | string[], context?: SharedContextV1): Promise<void>
  deleteInventoryLevel(inventoryItemId: string, locationId: string, context?: SharedContextV1): Promise<void>
  adjustInventory(
    inventoryItemId: string,
    locationId: string,
    adjustment: number,
    context?: SharedContextV1,
  ): Promise<InventoryLevelV1>
  confirmInventory(
    inventoryItemId: string,
    locationIds: string | string[],
    quantity: number,
    context?: SharedContextV1,
  ): Promise<boolean>
  retrieveAvailableQuantity(
    inventoryItemId: string,
    locationIds: string | string[],
    context?: SharedContextV1,
  ): Promise<number>
  retrieveStockedQuantity(
    inventoryItemId: string,
    locationIds: string | string[],
    context?: SharedContextV1,
  ): Promise<number>
  retrieveReservedQuantity(
    inventoryItemId: string,
    locationIds: string | string[],
    context?: SharedContextV1,
  ): Promise<number>
}

export declare const joinerConfig: {
  serviceName: 'inventoryService'
  primaryKeys: string[]
  linkableKeys: Record<string, string>
  schema: string
  alias: Array<{ name: string[]; args: Record<string, string> }>
}

/** A TypeORM migration class as v1 runs them (recorded by `name`). */
export type MigrationV1 = new () => {
  name: string
  up(queryRunner: unknown): Promise<void>
  down(queryRunner: unknown): Promise<void>
}

declare const definition: {
  service: typeof InventoryServiceV1
  loaders: Array<(args: { container: unknown; options?: Record<string, unknown> }) => Promise<void>>
  migrations: Array<Record<string, MigrationV1>>
  models: unknown[]
  runMigrations(args?: { options?: Record<string, unknown>; logger?: unknown }): Promise<void>
  revertMigration(args?: { options?: Record<string, unknown>; logger?: unknown }): Promise<void>
}
export default definition
export declare const service: typeof InventoryServiceV1
export declare const loaders: typeof definition.loaders
export declare const migrations: typeof definition.migrations
export declare const runMigrations: typeof definition.runMigrations
export declare const revertMigration: typeof definition.revertMigration
