// Public typings of medusa-inventory-rs: the shapes of Medusa v2's
// IInventoryService (@medusajs/types 2.21.2) for inputs and DTOs.

/** A quantity: a JS number, a numeric string, or Medusa's BigNumber raw shape. */
export type QuantityInput = number | string | { value: number | string; precision?: number }

/** Medusa's stored form of a numeric column (the `raw_*` jsonb twin). */
export interface RawQuantity {
  value: string
  precision: number
}

export type Metadata = Record<string, unknown>

export interface InventoryItemDTO {
  id: string
  sku: string | null
  origin_country: string | null
  hs_code: string | null
  mid_code: string | null
  material: string | null
  unit_of_measure: string | null
  weight: number | null
  length: number | null
  height: number | null
  width: number | null
  requires_shipping: boolean
  description: string | null
  title: string | null
  thumbnail: string | null
  metadata: Metadata | null
  created_at: Date
  updated_at: Date
  deleted_at: Date | null
  /** Only when selected: sum over the item's live levels. */
  stocked_quantity?: number
  /** Only when selected: sum over the item's live levels. */
  reserved_quantity?: number
  /** Only when requested through `relations` or `select`. */
  location_levels?: InventoryLevelDTO[]
  reservation_items?: ReservationItemDTO[]
}

export interface InventoryLevelDTO {
  id: string
  inventory_item_id: string
  location_id: string
  stocked_quantity: number
  reserved_quantity: number
  incoming_quantity: number
  /** stocked_quantity − reserved_quantity */
  available_quantity: number
  raw_stocked_quantity: RawQuantity
  raw_reserved_quantity: RawQuantity
  raw_incoming_quantity: RawQuantity
  metadata: Metadata | null
  created_at: Date
  updated_at: Date
  deleted_at: Date | null
  inventory_item?: InventoryItemDTO
}

export interface ReservationItemDTO {
  id: string
  inventory_item_id: string
  location_id: string
  line_item_id: string | null
  quantity: number
  raw_quantity: RawQuantity
  allow_backorder: boolean
  external_id: string | null
  description: string | null
  created_by: string | null
  metadata: Metadata | null
  created_at: Date
  updated_at: Date
  deleted_at: Date | null
  inventory_item?: InventoryItemDTO
}

export interface CreateInventoryItemInput {
  id?: string
  sku?: string | null
  origin_country?: string | null
  hs_code?: string | null
  mid_code?: string | null
  material?: string | null
  unit_of_measure?: string | null
  weight?: number | null
  length?: number | null
  height?: number | null
  width?: number | null
  requires_shipping?: boolean
  description?: string | null
  title?: string | null
  thumbnail?: string | null
  metadata?: Metadata | null
}

export interface UpdateInventoryItemInput extends Omit<CreateInventoryItemInput, 'id'> {
  id: string
}

export interface CreateInventoryLevelInput {
  id?: string
  inventory_item_id: string
  location_id: string
  stocked_quantity?: QuantityInput
  incoming_quantity?: QuantityInput
  metadata?: Metadata | null
  /** Accepted and ignored, as Medusa does: only reservations move it. */
  reserved_quantity?: QuantityInput
}

export interface UpdateInventoryLevelInput {
  inventory_item_id: string
  location_id: string
  /** Compare-and-set: applied only if the level still holds this stock, else `conflict` COMPARE_QUANTITY_STALE. */
  expected_stocked_quantity?: QuantityInput | null
  stocked_quantity?: QuantityInput
  incoming_quantity?: QuantityInput
  metadata?: Metadata | null
  /** Accepted and ignored, as Medusa does: only reservations move it. */
  reserved_quantity?: QuantityInput
}

export interface CreateReservationItemInput {
  id?: string
  inventory_item_id: string
  location_id: string
  quantity: QuantityInput
  line_item_id?: string | null
  allow_backorder?: boolean
  external_id?: string | null
  description?: string | null
  created_by?: string | null
  metadata?: Metadata | null
}

export interface UpdateReservationItemInput {
  id: string
  quantity?: QuantityInput
  location_id?: string
  allow_backorder?: boolean
  line_item_id?: string | null
  external_id?: string | null
  description?: string | null
  created_by?: string | null
  metadata?: Metadata | null
}

export interface AdjustInventoryInput {
  inventoryItemId: string
  locationId: string
  adjustment: QuantityInput
  /** Compare-and-set: applied only if the level still holds this stock, else `conflict` COMPARE_QUANTITY_STALE. */
  expectedStockedQuantity?: QuantityInput | null
}

/** A cycle count: the stock found, and the stock the count started from (required). */
export interface SetInventoryQuantityInput extends UpdateInventoryLevelInput {
  stocked_quantity: QuantityInput
  expected_stocked_quantity: QuantityInput
}

/**
 * What a write records with its movements, and its idempotency key: the argument after
 * a method's positional ones (in Medusa, the shared context's `inventory`).
 */
export interface CallOptions {
  /** Why (default per method: adjustment, reservation_created, cycle_count, …). */
  reason?: string
  /** Who: a user, an app, a job. */
  actor?: string
  /** What for: an order, a workflow run, a document. */
  reference?: string
  /** A repeat with the same key returns the first result and applies nothing; other arguments (or expectedStockedQuantity) with it are refused. */
  idempotencyKey?: string
  metadata?: Metadata
  /**
   * Compare-and-set on the stock of the call's one level: adjustInventory (positional, or a
   * batch of one entry), updateInventoryLevels and setInventoryQuantities with one row. A
   * stale level is `conflict` COMPARE_QUANTITY_STALE; several levels, or any other method,
   * are refused (`invalid_data`). Part of what an idempotency key stands for.
   */
  expectedStockedQuantity?: QuantityInput
  /**
   * Run the call inside your own transaction: a node-postgres `Client` (or pool client)
   * that has run BEGIN. The call's statements run on it inside a savepoint, so they
   * commit or roll back with your transaction; a failed call writes nothing and your
   * transaction goes on. Your other queries on it wait while the call runs.
   */
  client?: LendableClient
}

/** A connected node-postgres client (pure JavaScript driver, not pg-native). */
export interface LendableClient {
  query(...args: any[]): any
  connection: unknown
}

/** One change of one quantity of one level, as the ledger keeps it. */
export interface InventoryMovementDTO {
  id: string
  created_at: Date
  inventory_level_id: string
  inventory_item_id: string
  location_id: string
  field: 'stocked_quantity' | 'reserved_quantity' | 'incoming_quantity'
  delta: number
  /** The field's value after this change. */
  resulting: number
  reason: string
  /** The method that made it (null for opening balances). */
  method: string | null
  actor: string | null
  reference: string | null
  reservation_item_id: string | null
  line_item_id: string | null
  idempotency_key: string | null
  metadata: Metadata | null
}

type MovementText = string | string[]
export interface MovementFilters {
  inventory_level_id?: MovementText
  inventory_item_id?: MovementText
  location_id?: MovementText
  field?: MovementText
  reason?: MovementText
  actor?: MovementText
  reference?: MovementText
  reservation_item_id?: MovementText
  line_item_id?: MovementText
  idempotency_key?: MovementText
  created_at?: { $gt?: string; $gte?: string; $lt?: string; $lte?: string }
  id?: { $gt?: string; $gte?: string; $lt?: string; $lte?: string }
}

export interface MovementConfig {
  skip?: number
  /** 0 to 10000; default 100. */
  take?: number
  order?: { id?: 'ASC' | 'DESC'; created_at?: 'ASC' | 'DESC' }
}

/** A movement as the feed hands it out, with its position in the feed. */
export interface InventoryMovementFeedEntry extends InventoryMovementDTO {
  /** Opaque: pass the last one received as `after` to read on. */
  cursor: string
}

export interface MovementFeedOptions {
  /** The `cursor` of the last movement received; absent or null: from the start. */
  after?: string | null
  /** 1 to 10000; default 100. */
  limit?: number
}

/** A level (or a level only the ledger remembers) whose quantity differs from the sum of its movements. */
export interface LedgerGap {
  id: string
  field: 'stocked_quantity' | 'reserved_quantity' | 'incoming_quantity'
  quantity: number
  ledger_sum: number
}

export interface LedgerReport {
  ok: boolean
  levels: LedgerGap[]
  scanned: number
  next: string | null
}

type Scalar = string | number | boolean | Date | null
export interface OperatorMap<T = Scalar> {
  $eq?: T | T[]
  $ne?: T
  $in?: T[]
  $nin?: T[]
  $lt?: T
  $lte?: T
  $gt?: T
  $gte?: T
  $like?: string
  $ilike?: string
}
export type FilterValue<T = Scalar> = T | T[] | OperatorMap<T>

/** Medusa filter object over an entity's own fields; `q` searches its searchable fields. */
export type Filters<DTO> = {
  [K in keyof DTO]?: FilterValue
} & {
  q?: string
  $and?: Filters<DTO>[]
  $or?: Filters<DTO>[]
}

export interface FindConfig<DTO> {
  select?: (keyof DTO | string)[]
  relations?: string[]
  skip?: number
  take?: number
  order?: { [K in keyof DTO]?: 'ASC' | 'DESC' | 'asc' | 'desc' }
  withDeleted?: boolean
}

export interface SoftDeleteConfig {
  returnLinkableKeys?: string[]
}

export interface ConnectOptions {
  /** Postgres URL; defaults to process.env.DATABASE_URL. */
  url?: string
  /** Schema holding the tables (letters, digits, underscore; case kept); default "public". */
  schema?: string
  /** Pool size, an integer from 1 to 1000; default 10. */
  maxConnections?: number
  /**
   * Group commit for reservations (default true): while one reservation statement of this
   * process is in flight, calls that arrive meanwhile go to Postgres together as one batch,
   * each still succeeding or failing on its own.
   * `{ forceGroupOf: n }` is a test hook: calls wait until n are queued (or a second
   * passes) and then run as one group, so grouped behaviour can be tested deterministically.
   */
  groupReservations?: boolean | { forceGroupOf: number }
  /**
   * TLS, in node-postgres's shapes; when given it wins over the URL's sslmode parameters.
   * `false`: no TLS. `true`: TLS, certificate chain and host name checked against the Mozilla
   * roots. `{ rejectUnauthorized: false }`: encrypted, not verified. `{ ca, cert, key }`: verify
   * against `ca` (PEM) and authenticate with a client certificate.
   */
  ssl?: boolean | SslOptions
  /** Write the movement ledger (default true; false only to measure what it costs). */
  ledger?: boolean
  /** Seconds an idempotency key is kept, 1 to a year; default a day. */
  idempotencyKeyTtl?: number
  /**
   * Milliseconds a call waits for a pooled connection (1 to 600000; default 15000); past it
   * the call fails with `database_error` instead of hanging. Each host's whole connect attempt
   * (TCP, TLS, startup, authentication, `target_session_attrs`) is bounded by the URL's
   * `connect_timeout` (default 10 s), then the next host of a multi-host URL is tried.
   */
  acquireTimeoutMs?: number
  /**
   * A round trip to Postgres at least this many milliseconds long (fractions allowed) is
   * warned about as a slow statement, with its SQL and never its values, and counted in
   * `stats().slowStatements` (0 to 3600000; default 1000; 0: none).
   */
  slowStatementMs?: number
  /**
   * Where operator warnings go (connection lost, host switched, pool exhausted, slow
   * statement, ledger drift found by verify), once per event; default: process warnings
   * with codes `MEDUSA_INVENTORY_RS_<KIND>`. Inside Medusa: Medusa's logger.
   */
  logger?: { warn(message: string): unknown }
  /**
   * Spans and metrics through the app's `@opentelemetry/api` when it has one (default
   * true); false: none, `stats()` still counts.
   */
  telemetry?: boolean
}

/** What `stats()` returns: the numbers the OpenTelemetry metrics carry. */
export interface InventoryStats {
  pool: { max: number; size: number; idle: number; waiting: number }
  /** Reservation calls committed together (group commit): groups, calls in them, the largest. */
  groups: { count: number; members: number; largest: number }
  /** Reservations refused for want of inventory. */
  refused: number
  /** Calls answered from an idempotency key. */
  replays: number
  connectionLosses: number
  hostSwitches: number
  slowStatements: number
  /** Calls the core ran. */
  calls: number
  /** Per method, from this process: calls, failures by error type, durations in ms. */
  methods: Record<string, { calls: number; failures: Record<string, number>; totalMs: number; maxMs: number }>
}

export interface SslOptions {
  /** Default true: check the chain (against `ca`, else the Mozilla roots) and the host name. */
  rejectUnauthorized?: boolean
  /** Trusted CA certificate(s), PEM. */
  ca?: string | Buffer | Array<string | Buffer>
  /** Client certificate (chain), PEM; needs `key`. */
  cert?: string | Buffer | Array<string | Buffer>
  /** Client private key, PEM (unencrypted PKCS#8, PKCS#1 or SEC1). */
  key?: string | Buffer
}

/** Thrown by every method, shaped as Medusa's MedusaError. */
export declare class InventoryError extends Error {
  /** One of Medusa's MedusaError.Types. */
  type: 'not_found' | 'invalid_data' | 'not_allowed' | 'conflict' | 'database_error' | 'unexpected_state'
  /** Medusa's code refining the type (as MedusaError.Codes do); never an SQLSTATE. */
  code?: 'COMPARE_QUANTITY_STALE'
  date: Date
  /** SQLSTATE of a database error, for logs; never part of `message`. */
  sqlState?: string
  /** Raw database or panic text, for logs; never part of `message`. */
  cause?: string
}

type Ids = string | string[]
type Ctx = CallOptions | null

export interface ReconcileOptions {
  /** Report drift without writing. Default false. */
  dryRun?: boolean
  /** Scan levels with an id after this one: the `next` of the previous page. */
  after?: string | null
  /** Levels scanned by this call, 1 to 10000. Default 1000. */
  limit?: number
  /** Only this inventory item's levels (e.g. its admin page). */
  inventory_item_id?: string | null
  /** The actor the `reconcile` movements name (e.g. the admin user who ran it). */
  actor?: string | null
}

/** A live level whose reserved quantity (or its raw copy) disagrees with its live reservations. */
export interface ReconciledLevel {
  id: string
  inventory_item_id: string
  location_id: string
  /** reserved_quantity before the fix. */
  reserved_quantity: number
  /** The `value` of raw_reserved_quantity before the fix (null when missing). */
  raw_reserved_quantity: string | null
  /** Sum of the live reservations at the level's item and location. */
  reservation_quantity: number
  /** reserved_quantity - reservation_quantity (0 when only the raw copy disagreed). */
  difference: number
  /** Whether this call set both columns to the sum (false on dry runs, or when the sum would leave the quantity domain). */
  fixed: boolean
}

export interface Reconciliation {
  levels: ReconciledLevel[]
  /** Gaps between quantities and movements in the page's id range, each closed (unless dryRun, or the connection has `ledger: false`: then `fixed` is false) by a `reconcile` movement. */
  ledger: Array<LedgerGap & { fixed: boolean }>
  /** Cursor of the next page (pass it as `after`); null after the last page. */
  next: string | null
  /** Live levels this call looked at. */
  scanned: number
}

export declare class InventoryService {
  static connect(options?: ConnectOptions): Promise<InventoryService>
  /**
   * Creates or upgrades the tables (idempotent); resolves to our schema version. Then a
   * reconcile dry run over the first 100 000 levels: levels whose reserved quantity drifted
   * from their reservations, or whose quantities are not the sum of their movements, are
   * named in a process warning (code `MEDUSA_INVENTORY_RS_DRIFT`), not fixed.
   */
  migrate(): Promise<number>
  /** Drops the tables this module owns (what Medusa's migration revert does). Destructive. */
  revertMigrations(): Promise<void>
  /** Finds, and unless `dryRun` fixes, one page of levels whose reserved quantity drifted from their live reservations. Not a Medusa method. */
  reconcile(options?: ReconcileOptions): Promise<Reconciliation>
  /** Ledger retention: folds movements older than the given days into `carried_forward` movements (sums stay exact) and drops expired idempotency keys. Not a Medusa method. */
  prune(options: { movementRetentionDays: number }): Promise<{ folded: number; carried: number; keys: number }>
  /** The pool's, the core's and this process's call numbers, as the metrics carry them. */
  stats(): InventoryStats
  close(): Promise<void>

  listInventoryItems(
    filters?: Filters<InventoryItemDTO>,
    config?: FindConfig<InventoryItemDTO>,
    context?: Ctx,
  ): Promise<InventoryItemDTO[]>
  listAndCountInventoryItems(
    filters?: Filters<InventoryItemDTO>,
    config?: FindConfig<InventoryItemDTO>,
    context?: Ctx,
  ): Promise<[InventoryItemDTO[], number]>
  retrieveInventoryItem(id: string, config?: FindConfig<InventoryItemDTO>, context?: Ctx): Promise<InventoryItemDTO>
  createInventoryItems(input: CreateInventoryItemInput, context?: Ctx): Promise<InventoryItemDTO>
  createInventoryItems(input: CreateInventoryItemInput[], context?: Ctx): Promise<InventoryItemDTO[]>
  updateInventoryItems(input: UpdateInventoryItemInput, context?: Ctx): Promise<InventoryItemDTO>
  updateInventoryItems(input: UpdateInventoryItemInput[], context?: Ctx): Promise<InventoryItemDTO[]>
  deleteInventoryItems(ids: Ids, context?: Ctx): Promise<void>
  softDeleteInventoryItems(
    ids: string[],
    config?: SoftDeleteConfig,
    context?: Ctx,
  ): Promise<Record<string, string[]> | void>
  restoreInventoryItems(
    ids: string[],
    config?: SoftDeleteConfig,
    context?: Ctx,
  ): Promise<Record<string, string[]> | void>

  listInventoryLevels(
    filters?: Filters<InventoryLevelDTO>,
    config?: FindConfig<InventoryLevelDTO>,
    context?: Ctx,
  ): Promise<InventoryLevelDTO[]>
  listAndCountInventoryLevels(
    filters?: Filters<InventoryLevelDTO>,
    config?: FindConfig<InventoryLevelDTO>,
    context?: Ctx,
  ): Promise<[InventoryLevelDTO[], number]>
  retrieveInventoryLevel(id: string, config?: FindConfig<InventoryLevelDTO>, context?: Ctx): Promise<InventoryLevelDTO>
  retrieveInventoryLevelByItemAndLocation(
    inventoryItemId: string,
    locationId: string,
    context?: Ctx,
  ): Promise<InventoryLevelDTO>
  createInventoryLevels(input: CreateInventoryLevelInput, context?: Ctx): Promise<InventoryLevelDTO>
  createInventoryLevels(input: CreateInventoryLevelInput[], context?: Ctx): Promise<InventoryLevelDTO[]>
  updateInventoryLevels(input: UpdateInventoryLevelInput, context?: Ctx): Promise<InventoryLevelDTO>
  updateInventoryLevels(input: UpdateInventoryLevelInput[], context?: Ctx): Promise<InventoryLevelDTO[]>
  deleteInventoryLevel(inventoryItemId: string, locationId: string, context?: Ctx): Promise<void>
  deleteInventoryLevels(ids: Ids, context?: Ctx): Promise<void>
  softDeleteInventoryLevels(
    ids: string[],
    config?: SoftDeleteConfig,
    context?: Ctx,
  ): Promise<Record<string, string[]> | void>
  restoreInventoryLevels(
    ids: string[],
    config?: SoftDeleteConfig,
    context?: Ctx,
  ): Promise<Record<string, string[]> | void>
  deleteInventoryItemLevelByLocationId(
    locationId: Ids,
    context?: Ctx,
  ): Promise<[InventoryLevelDTO[], Record<string, unknown[]>]>
  adjustInventory(
    inventoryItemId: string,
    locationId: string,
    adjustment: QuantityInput,
    context?: Ctx,
  ): Promise<InventoryLevelDTO>
  adjustInventory(data: AdjustInventoryInput[], context?: Ctx): Promise<InventoryLevelDTO[]>

  listReservationItems(
    filters?: Filters<ReservationItemDTO>,
    config?: FindConfig<ReservationItemDTO>,
    context?: Ctx,
  ): Promise<ReservationItemDTO[]>
  listAndCountReservationItems(
    filters?: Filters<ReservationItemDTO>,
    config?: FindConfig<ReservationItemDTO>,
    context?: Ctx,
  ): Promise<[ReservationItemDTO[], number]>
  retrieveReservationItem(
    id: string,
    config?: FindConfig<ReservationItemDTO>,
    context?: Ctx,
  ): Promise<ReservationItemDTO>
  createReservationItems(input: CreateReservationItemInput, context?: Ctx): Promise<ReservationItemDTO>
  createReservationItems(input: CreateReservationItemInput[], context?: Ctx): Promise<ReservationItemDTO[]>
  updateReservationItems(input: UpdateReservationItemInput, context?: Ctx): Promise<ReservationItemDTO>
  updateReservationItems(input: UpdateReservationItemInput[], context?: Ctx): Promise<ReservationItemDTO[]>
  deleteReservationItems(ids: Ids, context?: Ctx): Promise<void>
  softDeleteReservationItems(
    ids: string[],
    config?: SoftDeleteConfig,
    context?: Ctx,
  ): Promise<Record<string, string[]> | void>
  restoreReservationItems(
    ids: string[],
    config?: SoftDeleteConfig,
    context?: Ctx,
  ): Promise<Record<string, string[]> | void>
  deleteReservationItemsByLineItem(lineItemId: Ids, context?: Ctx): Promise<void>
  restoreReservationItemsByLineItem(lineItemId: Ids, context?: Ctx): Promise<void>
  deleteReservationItemByLocationId(locationId: Ids, context?: Ctx): Promise<void>

  confirmInventory(
    inventoryItemId: string,
    locationIds: string[],
    quantity: QuantityInput,
    context?: Ctx,
  ): Promise<boolean>
  retrieveAvailableQuantity(inventoryItemId: string, locationIds: string[], context?: Ctx): Promise<number>
  retrieveStockedQuantity(inventoryItemId: string, locationIds: string[], context?: Ctx): Promise<number>
  retrieveReservedQuantity(inventoryItemId: string, locationIds: string[], context?: Ctx): Promise<number>

  // This module's own, beyond IInventoryService.
  listInventoryMovements(
    filters?: MovementFilters,
    config?: MovementConfig,
    context?: Ctx,
  ): Promise<InventoryMovementDTO[]>
  listAndCountInventoryMovements(
    filters?: MovementFilters,
    config?: MovementConfig,
    context?: Ctx,
  ): Promise<[InventoryMovementDTO[], number]>
  /** The movement feed: movements after `after`, in commit-safe order, each with its `cursor`; paging on misses and repeats none. */
  listInventoryMovementFeed(options?: MovementFeedOptions, context?: Ctx): Promise<InventoryMovementFeedEntry[]>
  /** Levels whose quantities differ from the sum of their movements (one page, in id order). */
  verifyInventoryLedger(
    options?: { after?: string | null; limit?: number; inventory_item_id?: string | null },
    context?: Ctx,
  ): Promise<LedgerReport>
  /** Cycle counts: sets stocked quantities, each only if the level still holds its expected stock. */
  setInventoryQuantities(input: SetInventoryQuantityInput[], context?: Ctx): Promise<InventoryLevelDTO[]>
}

/** The Medusa method names served by the native core. */
export declare const methods: string[]
