'use strict'
// `medusa-inventory-rs/medusa-v1`: the module for Medusa v1's `modules.inventoryService`
// (@medusajs/medusa 1.20.x, in place of @medusajs/inventory 1.11.x). In medusa-config:
//   modules: { inventoryService: { resolve: "medusa-inventory-rs/medusa-v1" } }
//
// A thin adapter on the same Rust core as the v2 entry (no v2 framework is loaded):
// v1's method names, `[rows, count]` lists, filter syntax, messages and events. When v1
// hands over an open TypeORM transaction (`context.transactionManager`), the call runs on
// that transaction's connection (lib/lend.js), so it commits and rolls back with the
// request; without one, on the module's own pool, one transaction per call as always.
const { InventoryService, InventoryError } = require('../lib')

const CONNECTION_KEY = 'medusaInventoryRsConnection'

/** v1's MedusaError when the app has @medusajs/utils (every v1 app does), else its shape. */
function medusaError(type, message, code) {
  let MedusaError
  try {
    ;({ MedusaError } = require('@medusajs/utils'))
  } catch {
    MedusaError = undefined
  }
  if (MedusaError) return new MedusaError(type, message, code)
  const e = new Error(message)
  e.name = 'MedusaError'
  e.type = type
  e.code = code
  e.date = new Date()
  return e
}

const NOT_ENOUGH = /^Not enough stock available for item (.+) at location (.+)$/
const NOT_FOUND_BY_ID = /^(InventoryItem|ReservationItem) with id: (.*) was not found$/

/**
 * The facade's error as v1's: its messages where they differ, `insufficient_inventory`
 * on a refused reservation (cart completion then answers 409 and cancels the payment),
 * and the SQLSTATE of a serialization failure or deadlock in `code`, where v1's
 * atomicPhase_ looks to retry.
 */
function toV1Error(e, variantOf) {
  if (!(e instanceof InventoryError)) return e
  let { message, code } = e
  const refused = e.type === 'not_allowed' && NOT_ENOUGH.exec(message)
  if (refused) {
    code = 'insufficient_inventory'
    const variant = variantOf?.(refused[1])
    if (variant) message = `Variant with id: ${variant} does not have the required inventory`
  }
  const byId = e.type === 'not_found' && NOT_FOUND_BY_ID.exec(message)
  if (byId) message = `${byId[1]} with id ${byId[2]} was not found`
  if (e.sqlState === '40001' || e.sqlState === '40P01') code = e.sqlState
  const err = medusaError(e.type, message, code)
  err.stack = e.stack
  if (e.sqlState !== undefined) err.sqlState = e.sqlState
  if (e.cause !== undefined) err.cause = e.cause
  return err
}

/**
 * The connection of the transaction v1 hands over, or undefined for the module's pool.
 * v1 also hands over managers outside any transaction (its DataSource's): those get a
 * transaction of their own, as with the stock module.
 */
async function lentClient(context) {
  const manager = context?.transactionManager
  if (manager === undefined || manager === null) return undefined
  // The stock module calls manager.getRepository first; v1's own tests pin this failure.
  if (typeof manager.getRepository !== 'function') throw new TypeError('manager.getRepository is not a function')
  const runner = manager.queryRunner
  if (!runner || !runner.isTransactionActive || runner.isReleased) return undefined
  // TypeORM's PostgresQueryRunner: the node-postgres client holding the transaction.
  return await runner.connect()
}

const STRING_OPS = { contains: (v) => `%${v}%`, starts_with: (v) => `${v}%`, ends_with: (v) => `%${v}` }
const NUMBER_OPS = { lt: '$lt', gt: '$gt', lte: '$lte', gte: '$gte' }

/** One v1 filter value in the core's (v2) syntax: arrays stay IN, operator objects map. */
function filterValue(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return value
  const out = {}
  for (const [op, v] of Object.entries(value)) {
    if (STRING_OPS[op]) out.$ilike = STRING_OPS[op](v)
    else if (NUMBER_OPS[op]) out[NUMBER_OPS[op]] = v
    else out[op] = v
  }
  return out
}

/** v1 selectors: the filter fields each entity takes (anything else is not a filter in v1). */
const DATES = ['created_at', 'updated_at']
const FILTERS = {
  item: ['id', 'q', 'sku', 'origin_country', 'hs_code', 'requires_shipping', 'location_id', ...DATES],
  level: [
    'id',
    'inventory_item_id',
    'location_id',
    'stocked_quantity',
    'reserved_quantity',
    'incoming_quantity',
    ...DATES,
  ],
  reservation: [
    'id',
    'line_item_id',
    'inventory_item_id',
    'location_id',
    'description',
    'created_by',
    'quantity',
    ...DATES,
  ],
}

function selectorFor(kind, selector) {
  const out = {}
  for (const [key, value] of Object.entries(selector ?? {})) {
    if (value === undefined || !FILTERS[kind].includes(key)) continue
    // v1 filters items by location through their levels (an inner join).
    if (kind === 'item' && key === 'location_id') out.location_levels = { location_id: filterValue(value) }
    else out[key] = filterValue(value)
  }
  return out
}

/** v1's find config: skip 0 and take 10 unless given; relations are v1's own and dropped. */
function configFor(config) {
  const out = { skip: config?.skip ?? 0 }
  const take = config?.take === undefined ? 10 : config.take
  if (take !== null) out.take = take
  if (config?.order) out.order = config.order
  return out
}

/** Fields v1's DTOs do not have: the v2 columns next to its own. */
const V2_ONLY = [
  'allow_backorder',
  'raw_quantity',
  'raw_stocked_quantity',
  'raw_reserved_quantity',
  'raw_incoming_quantity',
]

function v1Shape(value) {
  if (Array.isArray(value)) return value.map(v1Shape)
  if (value === null || typeof value !== 'object') return value
  for (const key of V2_ONLY) delete value[key]
  return value
}

/** Per pool: whether Medusa's core tables are in its database (asked once). */
const CORE_TABLES = new WeakMap()

const NOT_STOCKED = /^Item (.+) is not stocked at location (.+)$/

/**
 * v1 names every input row whose level is missing, in input order, repeats included
 * ("Item i is not stocked at location l, Item i is not stocked at location l"); the
 * core names each missing level once.
 */
function perRow(e, rows) {
  if (e?.type !== 'not_found' || typeof e.message !== 'string') return e
  const missing = new Set()
  for (const part of e.message.split(', ')) {
    const m = NOT_STOCKED.exec(part)
    if (!m) return e
    missing.add(`${m[1]}\u0000${m[2]}`)
  }
  const named = rows.filter((r) => missing.has(`${r.inventory_item_id}\u0000${r.location_id}`))
  if (named.length)
    e.message = named.map((r) => `Item ${r.inventory_item_id} is not stocked at location ${r.location_id}`).join(', ')
  return e
}

/** v1 replaces metadata on update; the core merges (Medusa v2): keys to drop are sent as "". */
function replacingMetadata(before, input) {
  if (!input || !('metadata' in input) || input.metadata === null) return input
  const dropped = Object.keys(before?.metadata ?? {}).filter((k) => !(k in input.metadata))
  return { ...input, metadata: { ...Object.fromEntries(dropped.map((k) => [k, ''])), ...input.metadata } }
}

/** Marks the reservation that stands for a reserved_quantity a v1 caller set on a level. */
const SET_ON_LEVEL = 'reserved_quantity set on the inventory level (medusa-v1)'

/** A level row without reserved_quantity (set through SET_ON_LEVEL, see createInventoryLevels). */
function withoutReserved(row) {
  const { reserved_quantity: _, ...rest } = row
  return rest
}

const many = (v) => (Array.isArray(v) ? v : [v])

class InventoryServiceV1 {
  constructor(cradle, options, moduleDeclaration) {
    this.moduleDeclaration = moduleDeclaration
    this.options_ = options ?? {}
    // Awilix's cradle throws on names it does not hold.
    const optional = (name) => {
      try {
        return cradle[name]
      } catch {
        return undefined
      }
    }
    this.connection_ = optional(CONNECTION_KEY)
    this.manager_ = optional('manager')
    this.eventBus_ = optional('eventBusService')
  }

  __joinerConfig() {
    return joinerConfig
  }

  /**
   * Runs a facade method on the handed-over transaction's connection, or on the pool;
   * `variantOf` names the variant of an item a refused reservation was for.
   */
  async call_(method, args, context, variantOf) {
    return await this.lent_(method, args, await lentClient(context), variantOf)
  }

  /** Emits v1's event on the request's transaction when there is one (staged with it). */
  async emit_(name, data, context) {
    const bus = this.eventBus_
    if (!bus || typeof bus.emit !== 'function') return
    const manager = context?.transactionManager
    const scoped = manager?.queryRunner?.isTransactionActive && bus.withTransaction ? bus.withTransaction(manager) : bus
    await scoped.emit(name, data)
  }

  async list(selector, config, context) {
    const [rows] = await this.listInventoryItems(selector, config, context)
    return rows
  }

  async listInventoryItems(selector, config, context) {
    return await this.listAndCount_('listAndCountInventoryItems', 'item', selector, config, context)
  }

  async listInventoryLevels(selector, config, context) {
    return await this.listAndCount_('listAndCountInventoryLevels', 'level', selector, config, context)
  }

  async listReservationItems(selector, config, context) {
    return await this.listAndCount_('listAndCountReservationItems', 'reservation', selector, config, context)
  }

  /** v1's `[rows, count]` with its selector and config in the core's terms. */
  async listAndCount_(method, kind, selector, config, context) {
    const [rows, count] = await this.call_(method, [selectorFor(kind, selector), configFor(config)], context)
    return [v1Shape(rows), count]
  }

  async retrieveInventoryItem(inventoryItemId, config, context) {
    if (!inventoryItemId) throw medusaError('not_found', '"inventoryItemId" must be defined')
    return v1Shape(await this.call_('retrieveInventoryItem', [inventoryItemId, {}], context))
  }

  async retrieveInventoryLevel(inventoryItemId, locationId, context) {
    return v1Shape(await this.call_('retrieveInventoryLevelByItemAndLocation', [inventoryItemId, locationId], context))
  }

  async retrieveReservationItem(reservationId, context) {
    if (!reservationId) throw medusaError('not_found', '"reservationItemId" must be defined')
    return v1Shape(await this.call_('retrieveReservationItem', [reservationId, {}], context))
  }

  async createReservationItem(input, context) {
    const [reservation] = await this.createReservationItems([input], context)
    return reservation
  }

  /**
   * v1's reservation input has no allow_backorder: the variant of the reservation's line
   * item says it, read on the same connection (so an order edit's uncommitted line items
   * count). Reservations of a backorder variant may pass stock; every other one is
   * checked against availability.
   */
  async createReservationItems(input, context) {
    const rows = many(input)
    const variants = await this.variantsOf_(rows, context)
    const data = rows.map((r) => {
      const v = r.line_item_id ? variants.get(r.line_item_id) : undefined
      return v?.allow_backorder ? { ...r, allow_backorder: true } : { ...r }
    })
    const variantOf = (itemId) => {
      const row = rows.find((r) => r.inventory_item_id === itemId && r.line_item_id)
      return row ? variants.get(row.line_item_id)?.id : undefined
    }
    let created
    try {
      created = v1Shape(await this.call_('createReservationItems', [data], context, variantOf))
    } catch (e) {
      throw perRow(e, rows)
    }
    await this.emit_('reservation-item.created', { ids: created.map((r) => r.id) }, context)
    return created
  }

  /** Line item id → { id, allow_backorder } of its variant, from Medusa's own tables. */
  async variantsOf_(rows, context) {
    const ids = [...new Set(rows.map((r) => r.line_item_id).filter((id) => typeof id === 'string' && id))]
    const found = new Map()
    if (!ids.length || !(await this.hasCoreTables_())) return found
    const sql = `SELECT li.id AS line_item_id, pv.id, pv.allow_backorder
                 FROM line_item li JOIN product_variant pv ON pv.id = li.variant_id
                 WHERE li.id = ANY($1)`
    const client = await lentClient(context)
    const result = client ? (await client.query(sql, [ids])).rows : await this.manager_.query(sql, [ids])
    for (const r of result) found.set(r.line_item_id, { id: r.id, allow_backorder: r.allow_backorder === true })
    return found
  }

  /** Whether Medusa's line_item and product_variant are in this database (shared mode). */
  async hasCoreTables_() {
    if (!this.manager_ || typeof this.manager_.query !== 'function') return false
    if (!CORE_TABLES.has(this.connection_)) {
      const [row] = await this.manager_.query(
        "SELECT to_regclass('line_item') IS NOT NULL AND to_regclass('product_variant') IS NOT NULL AS ok",
      )
      CORE_TABLES.set(this.connection_, row?.ok === true)
    }
    return CORE_TABLES.get(this.connection_)
  }

  async createInventoryItem(input, context) {
    const [item] = await this.createInventoryItems([input], context)
    return item
  }

  async createInventoryItems(input, context) {
    const created = v1Shape(await this.call_('createInventoryItems', [many(input)], context))
    await this.emit_('inventory-item.created', { ids: created.map((i) => i.id) }, context)
    return created
  }

  async createInventoryLevel(input, context) {
    const [level] = await this.createInventoryLevels([input], context)
    return level
  }

  /**
   * v1 lets a caller set reserved_quantity on a level. Here reserved_quantity is always
   * the sum of the level's live reservations, so a set value is kept as one reservation
   * marked SET_ON_LEVEL (no line item; it may pass stock, as v1's value may), sized so the
   * sum is the value asked for, in the same transaction as the level write.
   */
  async createInventoryLevels(input, context) {
    const rows = many(input)
    const reserved = rows.filter((r) => r.reserved_quantity !== undefined && r.reserved_quantity !== null)
    const created = await this.atomically_(context, reserved.length > 0, async (client) => {
      const levels = await this.lent_('createInventoryLevels', [rows.map(withoutReserved)], client)
      if (!reserved.length) return levels
      await this.setReserved_(reserved, client)
      return await this.levelsById_(levels, client)
    })
    await this.emit_('inventory-level.created', { ids: created.map((l) => l.id) }, context)
    return created
  }

  async updateInventoryLevels(updates, context) {
    const rows = many(updates)
    const reserved = rows.filter((r) => r.reserved_quantity !== undefined && r.reserved_quantity !== null)
    const updated = await this.atomically_(context, reserved.length > 0, async (client) => {
      let levels
      try {
        levels = await this.lent_('updateInventoryLevels', [rows.map(withoutReserved)], client)
      } catch (e) {
        throw perRow(e, rows)
      }
      if (!reserved.length) return levels
      await this.setReserved_(reserved, client)
      return await this.levelsById_(levels, client)
    })
    for (const level of updated) await this.emit_('inventory-level.updated', { id: level.id }, context)
    return updated
  }

  /** Sizes each level's SET_ON_LEVEL reservation so its reserved_quantity is the one asked for. */
  async setReserved_(rows, client) {
    for (const r of rows) {
      const want = Number(r.reserved_quantity)
      const [held] = await this.lent_(
        'listAndCountReservationItems',
        [{ inventory_item_id: r.inventory_item_id, location_id: r.location_id }, { take: null }],
        client,
      )
      const mine = held.filter((h) => h.description === SET_ON_LEVEL && !h.line_item_id)
      const others = held.filter((h) => !mine.includes(h)).reduce((sum, h) => sum + Number(h.quantity), 0)
      const size = want - others
      if (!Number.isInteger(want) || size < 0) {
        throw medusaError(
          'invalid_data',
          `reserved_quantity of the level of item ${r.inventory_item_id} at location ${r.location_id} must be an integer of at least ${others}, the quantity its reservations hold; received ${r.reserved_quantity}`,
        )
      }
      if (mine.length) await this.lent_('deleteReservationItems', [mine.map((h) => h.id)], client)
      if (size > 0) {
        const placeholder = {
          inventory_item_id: r.inventory_item_id,
          location_id: r.location_id,
          quantity: size,
          description: SET_ON_LEVEL,
          allow_backorder: true,
        }
        await this.lent_('createReservationItems', [[placeholder]], client)
      }
    }
  }

  /** The levels as they are now (after their reservations moved). */
  async levelsById_(levels, client) {
    const [fresh] = await this.lent_(
      'listAndCountInventoryLevels',
      [{ id: levels.map((l) => l.id) }, { take: null }],
      client,
    )
    const byId = new Map(fresh.map((l) => [l.id, l]))
    return levels.map((l) => byId.get(l.id) ?? l)
  }

  /** A facade call on `client` (a lent connection) or the pool; v1's errors and shapes. */
  async lent_(method, args, client, variantOf) {
    try {
      return v1Shape(await this.connection_[method](...args, client ? { client } : undefined))
    } catch (e) {
      throw toV1Error(e, variantOf)
    }
  }

  /**
   * Runs `fn(client)` in one transaction: v1's when it handed one over; else, when `fn`
   * makes `several` core calls, one of the app's own TypeORM DataSource, so they commit as
   * one; else on the module's pool (`client` undefined: the one call is its own transaction).
   */
  async atomically_(context, several, fn) {
    const lent = await lentClient(context)
    if (lent) return await fn(lent)
    const source = several ? this.manager_?.connection : undefined
    if (!source || typeof source.createQueryRunner !== 'function') return await fn(undefined)
    const runner = source.createQueryRunner()
    await runner.startTransaction()
    try {
      const out = await fn(await runner.connect())
      await runner.commitTransaction()
      return out
    } catch (e) {
      if (runner.isTransactionActive) await runner.rollbackTransaction()
      throw e
    } finally {
      await runner.release()
    }
  }

  /** Also v1's bulk overload: updateInventoryLevel([{ inventory_item_id, location_id, ... }], context). */
  async updateInventoryLevel(inventoryItemId, locationIdOrContext, update, context) {
    if (Array.isArray(inventoryItemId)) return await this.updateInventoryLevels(inventoryItemId, locationIdOrContext)
    const [level] = await this.updateInventoryLevels(
      [{ ...update, inventory_item_id: inventoryItemId, location_id: locationIdOrContext }],
      context,
    )
    return level
  }

  async updateInventoryItem(inventoryItemId, input, context) {
    const before = await this.retrieveInventoryItem(inventoryItemId, undefined, context)
    const item = v1Shape(
      await this.call_('updateInventoryItems', [{ ...replacingMetadata(before, input), id: inventoryItemId }], context),
    )
    const changed = Object.keys(input ?? {}).some((k) => JSON.stringify(before[k]) !== JSON.stringify(item[k]))
    if (changed) await this.emit_('inventory-item.updated', { id: item.id }, context)
    return item
  }

  async updateReservationItem(reservationItemId, input, context) {
    const before =
      input && 'metadata' in input ? await this.retrieveReservationItem(reservationItemId, context) : undefined
    const reservation = v1Shape(
      await this.call_(
        'updateReservationItems',
        [{ ...replacingMetadata(before, input), id: reservationItemId }],
        context,
      ),
    )
    await this.emit_('reservation-item.updated', { id: reservation.id }, context)
    return reservation
  }

  async deleteReservationItemsByLineItem(lineItemId, context) {
    await this.call_('deleteReservationItemsByLineItem', [many(lineItemId)], context)
    await this.emit_('reservation-item.deleted', { line_item_id: lineItemId }, context)
  }

  async deleteReservationItem(reservationItemId, context) {
    await this.call_('deleteReservationItems', [many(reservationItemId)], context)
    await this.emit_('reservation-item.deleted', { ids: reservationItemId }, context)
  }

  /** Soft-deletes the items and their levels, as v1 does. */
  async deleteInventoryItem(inventoryItemId, context) {
    await this.call_('softDeleteInventoryItems', [many(inventoryItemId), {}], context)
    await this.emit_('inventory-level.deleted', { inventory_item_id: inventoryItemId }, context)
    await this.emit_('inventory-item.deleted', { ids: inventoryItemId }, context)
  }

  async restoreInventoryItem(inventoryItemId, context) {
    await this.call_('restoreInventoryItems', [many(inventoryItemId), {}], context)
    await this.emit_('inventory-level.restored', { inventory_item_id: inventoryItemId }, context)
    await this.emit_('inventory-item.restored', { ids: inventoryItemId }, context)
  }

  async deleteInventoryItemLevelByLocationId(locationId, context) {
    await this.call_('deleteInventoryItemLevelByLocationId', [many(locationId)], context)
    await this.emit_('inventory-level.deleted', { location_ids: locationId }, context)
  }

  /**
   * Unlike stock v1, which soft-deletes them and leaves reserved_quantity as it was, the
   * levels' reserved quantity goes down with the reservations (reserved = live reservations).
   */
  async deleteReservationItemByLocationId(locationId, context) {
    await this.call_('deleteReservationItemByLocationId', [many(locationId)], context)
    await this.emit_('reservation-item.deleted', { location_id: locationId }, context)
  }

  async deleteInventoryLevel(inventoryItemId, locationId, context) {
    const [levels] = await this.listInventoryLevels(
      { inventory_item_id: inventoryItemId, location_id: locationId },
      { take: 1 },
      context,
    )
    if (!levels.length) return
    await this.call_('deleteInventoryLevel', [inventoryItemId, locationId], context)
    await this.emit_('inventory-level.deleted', { ids: [levels[0].id] }, context)
  }

  async adjustInventory(inventoryItemId, locationId, adjustment, context) {
    let level
    try {
      level = v1Shape(await this.call_('adjustInventory', [inventoryItemId, locationId, adjustment], context))
    } catch (e) {
      if (e.type === 'not_found' && /not stocked|not found/.test(e.message)) {
        throw medusaError(
          'not_found',
          `Inventory level for inventory item ${inventoryItemId} and location ${locationId} not found`,
        )
      }
      throw e
    }
    await this.emit_('inventory-level.updated', { id: level.id }, context)
    return level
  }

  async confirmInventory(inventoryItemId, locationIds, quantity, context) {
    return await this.call_('confirmInventory', [inventoryItemId, many(locationIds), quantity], context)
  }

  async retrieveAvailableQuantity(inventoryItemId, locationIds, context) {
    return await this.quantity_('retrieveAvailableQuantity', inventoryItemId, locationIds, context)
  }

  async retrieveStockedQuantity(inventoryItemId, locationIds, context) {
    return await this.quantity_('retrieveStockedQuantity', inventoryItemId, locationIds, context)
  }

  async retrieveReservedQuantity(inventoryItemId, locationIds, context) {
    return await this.quantity_('retrieveReservedQuantity', inventoryItemId, locationIds, context)
  }

  /** v1 checks the item first, then answers 0 for no locations. */
  async quantity_(method, inventoryItemId, locationIds, context) {
    const locations = many(locationIds ?? [])
    if (!locations.length) {
      await this.retrieveInventoryItem(inventoryItemId, undefined, context)
      return 0
    }
    return Number(await this.call_(method, [inventoryItemId, locations], context))
  }
}

// v1's remote query and links read the module's joiner config (the stock module's data).
const joinerConfig = {
  serviceName: 'inventoryService',
  primaryKeys: ['id'],
  linkableKeys: {
    inventory_item_id: 'InventoryItem',
    inventory_level_id: 'InventoryLevel',
    reservation_item_id: 'ReservationItem',
  },
  schema: `
scalar DateTime
scalar JSON

type InventoryItem {
  id: ID!
  created_at: DateTime!
  updated_at: DateTime!
  deleted_at: DateTime
  sku: String
  origin_country: String
  hs_code: String
  mid_code: String
  material: String
  weight: Int
  length: Int
  height: Int
  width: Int
  requires_shipping: Boolean!
  description: String
  title: String
  thumbnail: String
  metadata: JSON
  inventory_levels: [InventoryLevel]
}

type InventoryLevel {
  id: ID!
  created_at: DateTime!
  updated_at: DateTime!
  deleted_at: DateTime
  inventory_item_id: String!
  location_id: String!
  stocked_quantity: Int!
  reserved_quantity: Int!
  incoming_quantity: Int!
  metadata: JSON
}

type ReservationItem {
  id: ID!
  created_at: DateTime!
  updated_at: DateTime!
  deleted_at: DateTime
  line_item_id: String
  inventory_item_id: String!
  location_id: String!
  quantity: Int!
  external_id: String
  description: String
  created_by: String
  metadata: JSON
}
`,
  alias: [
    { name: ['inventory_items', 'inventory'], args: { entity: 'InventoryItem' } },
    {
      name: ['inventory_level', 'inventory_levels'],
      args: { entity: 'InventoryLevel', methodSuffix: 'InventoryLevels' },
    },
    {
      name: ['reservation', 'reservations', 'reservation_item', 'reservation_items'],
      args: { entity: 'ReservationItem', methodSuffix: 'ReservationItems' },
    },
  ],
}

/**
 * Where the database is. Shared (v1's default for this module): the project's
 * database_url, database_extra (TLS) and database_schema. Isolated: options.database,
 * as the stock module reads it.
 */
function databaseFrom({ options, configModule } = {}) {
  const project = configModule?.projectConfig
  const own = options?.database
  const url = own?.url ?? project?.database_url ?? process.env.DATABASE_URL
  if (!url) {
    throw medusaError(
      'invalid_argument',
      'medusa-inventory-rs: no database URL. Set projectConfig.database_url (shared) or the module option database.url (isolated).',
    )
  }
  const extra = own?.extra ?? project?.database_extra
  const schema = own?.schema ?? project?.database_schema
  return {
    url,
    ...(schema ? { schema } : {}),
    ...(extra?.ssl !== undefined ? { ssl: extra.ssl } : {}),
    ...(options?.maxConnections ? { maxConnections: options.maxConnections } : {}),
  }
}

/** Opens the module's pool once per container; every service instance v1 builds shares it. */
async function connectionLoader({ container, options }) {
  let configModule
  try {
    configModule = container.resolve('configModule')
  } catch {
    configModule = undefined
  }
  const inventory = await InventoryService.connect(databaseFrom({ options, configModule }))
  // An awilix resolver (what asValue builds), without depending on the app's awilix.
  container.register(CONNECTION_KEY, { resolve: () => inventory })
}

async function migrateWith(database, logger) {
  const inventory = await InventoryService.connect(database)
  try {
    const version = await inventory.migrate()
    logger?.info?.(`medusa-inventory-rs: schema at version ${version}`)
  } finally {
    await inventory.close()
  }
}

/** The database of a TypeORM migration run: its DataSource's url, TLS and schema. */
function databaseOfRunner(queryRunner) {
  const o = queryRunner?.connection?.options ?? {}
  return databaseFrom({
    configModule: { projectConfig: { database_url: o.url, database_extra: o.extra, database_schema: o.schema } },
  })
}

/**
 * v1 runs a shared module's migrations in its own DataSource and records them by name.
 * The stock module's three names are recorded too (each runs the idempotent migrate), so
 * a database switched back to @medusajs/inventory does not replay its setup; ours, last,
 * converts a database the stock module created.
 */
function migration(name, down) {
  const cls = {
    [name]: class {
      constructor() {
        this.name = name
      }
      async up(queryRunner) {
        await migrateWith(databaseOfRunner(queryRunner))
      }
      async down(queryRunner) {
        if (down) await down(queryRunner)
      }
    },
  }[name]
  return { [name]: cls }
}

const migrations = [
  migration('inventorySetup1665748086258', async (queryRunner) => {
    const inventory = await InventoryService.connect(databaseOfRunner(queryRunner))
    try {
      await inventory.revertMigrations()
    } finally {
      await inventory.close()
    }
  }),
  migration('addReservationType1675761451145'),
  migration('itemDescriptionsAndThumbnail1682927363119'),
  migration('medusaInventoryRsV11765000000000'),
]

/** Isolated mode (`medusa migrations run` of an isolated module): options.database. */
async function runMigrations({ options, logger } = {}) {
  await migrateWith(databaseFrom({ options }), logger)
}

async function revertMigration({ options, logger } = {}) {
  const inventory = await InventoryService.connect(databaseFrom({ options }))
  try {
    await inventory.revertMigrations()
    logger?.info?.('medusa-inventory-rs: inventory tables dropped')
  } finally {
    await inventory.close()
  }
}

const definition = {
  service: InventoryServiceV1,
  loaders: [connectionLoader],
  migrations,
  models: [],
  runMigrations,
  revertMigration,
}

// v1 loads `require(path).default`.
module.exports = {
  __esModule: true,
  default: definition,
  ...definition,
  InventoryServiceV1,
  joinerConfig,
}
