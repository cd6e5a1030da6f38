'use strict'
// `medusa-inventory-rs/medusa`: the module definition for Modules.INVENTORY.
// In medusa-config: modules: [{ resolve: "medusa-inventory-rs/medusa" }].
//
// A thin adapter: every data method goes to the Rust core (one Postgres
// transaction per call); this file only maps Medusa's calling conventions,
// errors, BigNumbers and events onto it.
const {
  BigNumber,
  MedusaError,
  MedusaServiceModelObjectsSymbol,
  Module,
  Modules,
  buildModuleResourceEventName,
  composeMessage,
  defineJoinerConfig,
} = require('@medusajs/framework/utils')
const { asValue } = awilix()
const { InventoryService, InventoryError } = require('../lib')
const { API, CALL, MIGRATE, splitArgs } = require('../lib/internal')
const { InventoryItem, InventoryLevel, ReservationItem, schema } = require('./entities')

const { AsyncLocalStorage } = require('node:async_hooks')

const CONNECTION_KEY = 'medusaInventoryRsConnection'
const OPTIONS_KEY = 'medusaInventoryRsOptions'

/**
 * The ambient ledger context (`runWithLedgerContext`): one store per process, kept on
 * globalThis so that two copies of this file (a plugin's and the app's) share it.
 */
const LEDGER_CONTEXT = Symbol.for('medusa-inventory-rs.ledgerContext')
const ledgerContext = (globalThis[LEDGER_CONTEXT] ??= new AsyncLocalStorage())
const LEDGER_CONTEXT_KEYS = ['actor', 'reason', 'reference']

/**
 * Runs `fn` with `ctx` ({ actor?, reason?, reference? }) as the defaults of the ledger
 * fields of every write of this module made inside it (also from promises it starts),
 * unless a call's own `context.inventory` names them. The plugin's middleware runs
 * Medusa's admin level routes inside it, so the admin's form edits name the admin user.
 */
function runWithLedgerContext(ctx, fn) {
  if (typeof fn !== 'function') throw new TypeError('runWithLedgerContext(ctx, fn): fn must be a function')
  const store = {}
  for (const k of LEDGER_CONTEXT_KEYS) {
    const v = ctx?.[k]
    if (v === undefined || v === null) continue
    if (typeof v !== 'string') throw new TypeError(`runWithLedgerContext: ${k} must be a string`)
    store[k] = v
  }
  return ledgerContext.run(store, fn)
}

/**
 * The awilix of the app's Medusa container. `@medusajs/framework/awilix` exists from
 * 2.11 on; before that the framework's own `awilix` dependency, resolved from inside
 * the framework (so a hoisted or nested copy alike).
 */
function awilix() {
  try {
    return require('@medusajs/framework/awilix')
  } catch (e) {
    if (e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED' && e.code !== 'MODULE_NOT_FOUND') throw e
    return require('module').createRequire(require.resolve('@medusajs/framework/utils'))('awilix')
  }
}

const joinerConfig = defineJoinerConfig(Modules.INVENTORY, {
  schema,
  models: [InventoryItem, InventoryLevel, ReservationItem],
  alias: [
    {
      name: ['inventory_items', 'inventory_item', 'inventory'],
      entity: 'InventoryItem',
      args: { methodSuffix: 'InventoryItems' },
    },
    {
      name: ['reservation', 'reservations', 'reservation_item', 'reservation_items'],
      entity: 'ReservationItem',
      args: { methodSuffix: 'ReservationItems' },
    },
  ],
})

/**
 * TLS as the project configured it for Medusa: module option `ssl`, else the project's
 * databaseDriverOptions (`{ ssl }` or `{ connection: { ssl } }`, what Medusa's own pg
 * connection reads). Undefined when none is set, so the URL's sslmode/ssl_mode decides.
 */
function sslFrom(options = {}) {
  const driver = options.database?.driverOptions
  return options.ssl ?? driver?.ssl ?? driver?.connection?.ssl ?? undefined
}

/** Database from module options as Medusa passes them, else options.url, else the environment. */
function databaseFrom(options = {}) {
  const url =
    options.database?.clientUrl ??
    options.url ??
    process.env.INVENTORY_DATABASE_URL ??
    process.env.MEDUSA_DATABASE_URL ??
    process.env.DATABASE_URL
  if (!url) {
    throw new MedusaError(
      MedusaError.Types.INVALID_ARGUMENT,
      'medusa-inventory-rs: no database URL. Set the module option database.clientUrl (Medusa passes its databaseUrl), options.url, or DATABASE_URL.',
    )
  }
  const pool = options.database?.pool?.max ?? options.maxConnections
  const ssl = sslFrom(options)
  return {
    ...(options.slowStatementMs !== undefined ? { slowStatementMs: options.slowStatementMs } : {}),
    ...(options.telemetry !== undefined ? { telemetry: options.telemetry } : {}),
    // ssl_mode= (Medusa's spelling) stays in the URL: the core reads it as sslmode.
    url,
    // Medusa passes schema '' when the project sets none.
    schema: options.database?.schema || options.schema || 'public',
    ...(pool ? { maxConnections: pool } : {}),
    ...(ssl !== undefined ? { ssl } : {}),
  }
}

function toMedusaError(e) {
  if (e instanceof InventoryError) {
    // Medusa's `code` means what the facade's does; never an SQLSTATE, which Medusa's
    // HTTP error handler would read as a Postgres error's (formatException).
    const err = new MedusaError(e.type, e.message, e.code)
    err.stack = e.stack
    // SQLSTATE and raw cause, for logs only (never in the message).
    if (e.sqlState !== undefined) err.sqlState = e.sqlState
    if (e.cause !== undefined) err.cause = e.cause
    return err
  }
  return e
}

/**
 * Every `available_quantity` number in a result, at any depth, as a BigNumber. Indexed
 * loops and no recursion into Dates or primitives: on a page of 50 items this walk was
 * most of the adapter's cost per call (Object.keys and forEach allocate per object).
 */
function withBigNumbers(value) {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i]
      if (v !== null && typeof v === 'object') withBigNumbers(v)
    }
  } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const keys = Object.keys(value)
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]
      const v = value[key]
      if (typeof v === 'number') {
        if (key === 'available_quantity') value[key] = new BigNumber(v)
      } else if (v !== null && typeof v === 'object') withBigNumbers(v)
    }
  }
  return value
}

// Event names by object and action, built once: Medusa's builder kebab-cases with regexes.
const EVENT_NAMES = new Map()
function eventName(object, action) {
  const key = `${object} ${action}`
  let name = EVENT_NAMES.get(key)
  if (name === undefined) {
    name = buildModuleResourceEventName({ prefix: Modules.INVENTORY, objectName: object, action })
    EVENT_NAMES.set(key, name)
  }
  return name
}

const FIND_CONFIG_KEYS = ['skip', 'take', 'order', 'withDeleted', 'select', 'relations']

// What each entity exposes to select paths, read off the DML declarations:
// its fields (belongs-to relations add their `<name>_id`) and its relations (name → entity).
const RELATION_TYPES = ['belongsTo', 'hasMany', 'hasOne', 'manyToMany']
const SHAPES = {}
for (const model of [InventoryItem, InventoryLevel, ReservationItem]) {
  const shape = { fields: [], relations: {} }
  for (const [name, property] of Object.entries(model.schema)) {
    if (RELATION_TYPES.includes(property.type)) {
      shape.relations[name] = property.parse(name).entity().name
      if (property.type === 'belongsTo') shape.fields.push(`${name}_id`)
    } else {
      shape.fields.push(name)
    }
  }
  SHAPES[model.name] = shape
}

/** Whether a select path (`sku`, `*location_levels`, `location_levels.location_id`) names something real. */
function knownPath(entity, path) {
  const shape = SHAPES[entity]
  if (path === '*') return true
  if (path.startsWith('*')) return path.slice(1) in shape.relations
  const dot = path.indexOf('.')
  if (dot < 0) return shape.fields.includes(path) || path in shape.relations
  const head = path.slice(0, dot)
  return head in shape.relations && knownPath(shape.relations[head], path.slice(dot + 1))
}

/**
 * Medusa (MikroORM underneath) ignores select entries and relations that name nothing,
 * and its admin routes pass such `fields` through; the module does the same rather than
 * fail the request. Filters stay strict.
 */
function knownSelection(entity, cfg) {
  const out = { ...cfg }
  if (Array.isArray(cfg.select)) out.select = cfg.select.filter((p) => typeof p === 'string' && knownPath(entity, p))
  if (Array.isArray(cfg.relations)) {
    out.relations = cfg.relations.filter((r) => typeof r === 'string' && knownPath(entity, r.replace(/\.?\*$/, '')))
  }
  return out
}

/**
 * Query passes its own bookkeeping along (args, options, cursor, __internal) and a
 * `context` filter; the core only takes Medusa's find config and entity fields.
 */
function forCore(spec, args) {
  // Reads taking a find config: list*, listAndCount* (a selector first) and retrieve* (an id).
  if (spec.kind !== 'read' || spec.params[1] !== 'config') return args
  const entity = spec.entity
  const out = [...args]
  if (spec.params[0] === 'selector' && out[0] && typeof out[0] === 'object' && 'context' in out[0]) {
    const { context, ...rest } = out[0]
    out[0] = rest
  }
  const cfg = out[1]
  if (cfg && typeof cfg === 'object') {
    const clean = {}
    for (const k of FIND_CONFIG_KEYS) if (cfg[k] !== undefined) clean[k] = cfg[k]
    out[1] = knownSelection(entity, clean)
  }
  return out
}

/**
 * The ledger's who and why of a write, from the shared context: `context.inventory`
 * ({ reason, actor, reference, idempotencyKey, metadata }) wins, then the ambient
 * ledger context (runWithLedgerContext); the workflow's transaction id is the default
 * reference and the module option `actor` the default actor.
 */
function callOptions(spec, context, moduleOptions) {
  if (spec.kind !== 'write') return null
  const own = context.inventory && typeof context.inventory === 'object' ? context.inventory : {}
  const out = { ...own }
  const ambient = ledgerContext.getStore()
  if (ambient)
    for (const k of LEDGER_CONTEXT_KEYS) if (out[k] === undefined && ambient[k] !== undefined) out[k] = ambient[k]
  if (out.reference === undefined && typeof context.transactionId === 'string' && context.transactionId) {
    out.reference = context.transactionId
  }
  if (out.actor === undefined && typeof moduleOptions?.actor === 'string') out.actor = moduleOptions.actor
  return out
}

class InventoryModuleService {
  constructor(cradle, moduleDeclaration) {
    this.moduleDeclaration = moduleDeclaration
    // Awilix's cradle throws on names it does not hold (a service built outside the loader).
    try {
      this.options_ = cradle[OPTIONS_KEY] ?? {}
    } catch {
      this.options_ = {}
    }
    this.connection_ = cradle[CONNECTION_KEY]
    try {
      this.eventBus_ = cradle[Modules.EVENT_BUS]
    } catch {
      this.eventBus_ = undefined
    }
    this.__hooks = {
      onApplicationShutdown: async () => {
        await this.connection_?.close()
      },
    }
  }

  __joinerConfig() {
    return joinerConfig
  }

  /**
   * Not part of IInventoryService: finds, and unless `dryRun` fixes, one page of levels
   * whose reserved quantity drifted from their live reservations (lib's reconcile).
   */
  async reconcile(options) {
    try {
      return await this.connection_.reconcile(options)
    } catch (e) {
      throw toMedusaError(e)
    }
  }

  /** Not part of IInventoryService: the pool's and the calls' numbers (lib's stats). */
  stats() {
    return this.connection_.stats()
  }

  /** Not part of IInventoryService: ledger retention (lib's prune). */
  async prune(options) {
    try {
      return await this.connection_.prune(options)
    } catch (e) {
      throw toMedusaError(e)
    }
  }

  /** Turns the core's committed changes into Medusa's event messages. */
  async emitChanges_(changes, context) {
    if (!changes.length) return
    const aggregator = context?.messageAggregator
    // Nobody to tell: skip building the messages.
    if (!aggregator && !this.eventBus_) return
    const raw = []
    for (const [object, action, ids] of changes) {
      const name = eventName(object, action)
      for (const id of ids) {
        raw.push({ eventName: name, source: Modules.INVENTORY, action, object, data: { id }, context })
      }
    }
    if (aggregator) {
      // The caller (a workflow step) owns the aggregator and emits when it is done.
      // sharedContext: aggregators before 2.11 ignore each message's own context (eventGroupId).
      aggregator.saveRawMessageData(raw, { sharedContext: context })
      return
    }
    // composeMessage only reads its second argument, so the raw message itself will do.
    const messages = raw.map((m) => composeMessage(m.eventName, m))
    await this.eventBus_.emit(messages, { internal: true })
  }

  // One method per manifest entry, as IInventoryService names it; the argument after the
  // positional ones is Medusa's shared context (its `inventory`: the ledger's who and why).
  // --- generated by scripts/gen-methods.js from the API manifest: do not edit, run `node scripts/gen-methods.js` ---
  /* oxlint-disable no-unused-vars -- the parameters name the arguments; the helper takes them all, as passed */

  /** IInventoryService.listInventoryItems: a read on InventoryItem. */
  async listInventoryItems(selector, config, context) {
    return await invoke(this, 'listInventoryItems', arguments)
  }

  /** IInventoryService.listAndCountInventoryItems: a read on InventoryItem. */
  async listAndCountInventoryItems(selector, config, context) {
    return await invoke(this, 'listAndCountInventoryItems', arguments)
  }

  /** IInventoryService.retrieveInventoryItem: a read on InventoryItem. */
  async retrieveInventoryItem(id, config, context) {
    return await invoke(this, 'retrieveInventoryItem', arguments)
  }

  /** IInventoryService.createInventoryItems: a write on InventoryItem. */
  async createInventoryItems(data, context) {
    return await invoke(this, 'createInventoryItems', arguments)
  }

  /** IInventoryService.updateInventoryItems: a write on InventoryItem. */
  async updateInventoryItems(data, context) {
    return await invoke(this, 'updateInventoryItems', arguments)
  }

  /** IInventoryService.deleteInventoryItems: a write on InventoryItem. */
  async deleteInventoryItems(ids, context) {
    return await invoke(this, 'deleteInventoryItems', arguments)
  }

  /** IInventoryService.softDeleteInventoryItems: a write on InventoryItem. */
  async softDeleteInventoryItems(ids, config, context) {
    return await invoke(this, 'softDeleteInventoryItems', arguments)
  }

  /** IInventoryService.restoreInventoryItems: a write on InventoryItem. */
  async restoreInventoryItems(ids, config, context) {
    return await invoke(this, 'restoreInventoryItems', arguments)
  }

  /** IInventoryService.listInventoryLevels: a read on InventoryLevel. */
  async listInventoryLevels(selector, config, context) {
    return await invoke(this, 'listInventoryLevels', arguments)
  }

  /** IInventoryService.listAndCountInventoryLevels: a read on InventoryLevel. */
  async listAndCountInventoryLevels(selector, config, context) {
    return await invoke(this, 'listAndCountInventoryLevels', arguments)
  }

  /** IInventoryService.retrieveInventoryLevel: a read on InventoryLevel. */
  async retrieveInventoryLevel(id, config, context) {
    return await invoke(this, 'retrieveInventoryLevel', arguments)
  }

  /** IInventoryService.retrieveInventoryLevelByItemAndLocation: a read on InventoryLevel. */
  async retrieveInventoryLevelByItemAndLocation(inventoryItemId, locationId, context) {
    return await invoke(this, 'retrieveInventoryLevelByItemAndLocation', arguments)
  }

  /** IInventoryService.createInventoryLevels: a write on InventoryLevel. */
  async createInventoryLevels(data, context) {
    return await invoke(this, 'createInventoryLevels', arguments)
  }

  /** IInventoryService.updateInventoryLevels: a write on InventoryLevel. */
  async updateInventoryLevels(data, context) {
    return await invoke(this, 'updateInventoryLevels', arguments)
  }

  /** IInventoryService.deleteInventoryLevel: a write on InventoryLevel. */
  async deleteInventoryLevel(inventoryItemId, locationId, context) {
    return await invoke(this, 'deleteInventoryLevel', arguments)
  }

  /** IInventoryService.deleteInventoryLevels: a write on InventoryLevel. */
  async deleteInventoryLevels(ids, context) {
    return await invoke(this, 'deleteInventoryLevels', arguments)
  }

  /** IInventoryService.softDeleteInventoryLevels: a write on InventoryLevel. */
  async softDeleteInventoryLevels(ids, config, context) {
    return await invoke(this, 'softDeleteInventoryLevels', arguments)
  }

  /** IInventoryService.restoreInventoryLevels: a write on InventoryLevel. */
  async restoreInventoryLevels(ids, config, context) {
    return await invoke(this, 'restoreInventoryLevels', arguments)
  }

  /** IInventoryService.deleteInventoryItemLevelByLocationId: a write on InventoryLevel. */
  async deleteInventoryItemLevelByLocationId(locationId, context) {
    return await invoke(this, 'deleteInventoryItemLevelByLocationId', arguments)
  }

  /** IInventoryService.adjustInventory: a write on InventoryLevel; batch form adjustInventory(data, context). */
  async adjustInventory(inventoryItemId, locationId, adjustment, context) {
    return await invoke(this, 'adjustInventory', arguments)
  }

  /** IInventoryService.listReservationItems: a read on ReservationItem. */
  async listReservationItems(selector, config, context) {
    return await invoke(this, 'listReservationItems', arguments)
  }

  /** IInventoryService.listAndCountReservationItems: a read on ReservationItem. */
  async listAndCountReservationItems(selector, config, context) {
    return await invoke(this, 'listAndCountReservationItems', arguments)
  }

  /** IInventoryService.retrieveReservationItem: a read on ReservationItem. */
  async retrieveReservationItem(id, config, context) {
    return await invoke(this, 'retrieveReservationItem', arguments)
  }

  /** IInventoryService.createReservationItems: a write on ReservationItem. */
  async createReservationItems(data, context) {
    return await invoke(this, 'createReservationItems', arguments)
  }

  /** IInventoryService.updateReservationItems: a write on ReservationItem. */
  async updateReservationItems(data, context) {
    return await invoke(this, 'updateReservationItems', arguments)
  }

  /** IInventoryService.deleteReservationItems: a write on ReservationItem. */
  async deleteReservationItems(ids, context) {
    return await invoke(this, 'deleteReservationItems', arguments)
  }

  /** IInventoryService.softDeleteReservationItems: a write on ReservationItem. */
  async softDeleteReservationItems(ids, config, context) {
    return await invoke(this, 'softDeleteReservationItems', arguments)
  }

  /** IInventoryService.restoreReservationItems: a write on ReservationItem. */
  async restoreReservationItems(ids, config, context) {
    return await invoke(this, 'restoreReservationItems', arguments)
  }

  /** IInventoryService.deleteReservationItemsByLineItem: a write on ReservationItem. */
  async deleteReservationItemsByLineItem(lineItemId, context) {
    return await invoke(this, 'deleteReservationItemsByLineItem', arguments)
  }

  /** IInventoryService.restoreReservationItemsByLineItem: a write on ReservationItem. */
  async restoreReservationItemsByLineItem(lineItemId, context) {
    return await invoke(this, 'restoreReservationItemsByLineItem', arguments)
  }

  /** IInventoryService.deleteReservationItemByLocationId: a write on ReservationItem. */
  async deleteReservationItemByLocationId(locationId, context) {
    return await invoke(this, 'deleteReservationItemByLocationId', arguments)
  }

  /** IInventoryService.confirmInventory: a read on InventoryLevel. */
  async confirmInventory(inventoryItemId, locationIds, quantity, context) {
    return await invoke(this, 'confirmInventory', arguments)
  }

  /** IInventoryService.retrieveAvailableQuantity: a quantity on InventoryLevel. */
  async retrieveAvailableQuantity(inventoryItemId, locationIds, context) {
    return await invoke(this, 'retrieveAvailableQuantity', arguments)
  }

  /** IInventoryService.retrieveStockedQuantity: a quantity on InventoryLevel. */
  async retrieveStockedQuantity(inventoryItemId, locationIds, context) {
    return await invoke(this, 'retrieveStockedQuantity', arguments)
  }

  /** IInventoryService.retrieveReservedQuantity: a quantity on InventoryLevel. */
  async retrieveReservedQuantity(inventoryItemId, locationIds, context) {
    return await invoke(this, 'retrieveReservedQuantity', arguments)
  }

  /** This module's listInventoryMovements, not in IInventoryService: a read on InventoryLevel. */
  async listInventoryMovements(filters, config, context) {
    return await invoke(this, 'listInventoryMovements', arguments)
  }

  /** This module's listAndCountInventoryMovements, not in IInventoryService: a read on InventoryLevel. */
  async listAndCountInventoryMovements(filters, config, context) {
    return await invoke(this, 'listAndCountInventoryMovements', arguments)
  }

  /** This module's listInventoryMovementFeed, not in IInventoryService: a read on InventoryLevel. */
  async listInventoryMovementFeed(options, context) {
    return await invoke(this, 'listInventoryMovementFeed', arguments)
  }

  /** This module's verifyInventoryLedger, not in IInventoryService: a read on InventoryLevel. */
  async verifyInventoryLedger(options, context) {
    return await invoke(this, 'verifyInventoryLedger', arguments)
  }

  /** This module's setInventoryQuantities, not in IInventoryService: a write on InventoryLevel. */
  async setInventoryQuantities(data, context) {
    return await invoke(this, 'setInventoryQuantities', arguments)
  }
  /* oxlint-enable no-unused-vars */
  // --- end of generated methods ---
}

InventoryModuleService[MedusaServiceModelObjectsSymbol] = { InventoryItem, InventoryLevel, ReservationItem }

/**
 * The body of every generated method: `params` is its `arguments`, as the caller passed
 * them (positional ones, then Medusa's shared context; see splitArgs).
 */
async function invoke(service, name, params) {
  const spec = API.byName.get(name)
  const split = splitArgs(spec, params)
  const args = split.args
  const context = split.context ?? {}
  let out
  try {
    out = await service.connection_[CALL](spec, forCore(spec, args), callOptions(spec, context, service.options_))
  } catch (e) {
    throw toMedusaError(e)
  }
  // Reads (and writes that changed nothing) have no events: no extra await for them.
  if (out.changes.length) await service.emitChanges_(out.changes, context)
  const result = out.result === null ? undefined : out.result
  // Medusa returns quantities as BigNumber; JSON serialization turns them back into numbers.
  if (spec.kind === 'quantity') return new BigNumber(result)
  // The core's JSON, and the DTO text from Postgres it passes on, name every key as is
  // (no escapes), so a result whose text has no "available_quantity" holds nothing to
  // convert and is not walked.
  return out.json.includes('"available_quantity"') ? withBigNumbers(result) : result
}

/** Opens this module instance's pool; closed by the service's onApplicationShutdown hook. */
async function connectionLoader({ container, options, logger }) {
  // Warnings an operator needs (connection lost, pool exhausted, slow statements) go to
  // Medusa's logger.
  const inventory = await InventoryService.connect({ ...databaseFrom(options), ...(logger ? { logger } : {}) })
  container.register({ [CONNECTION_KEY]: asValue(inventory), [OPTIONS_KEY]: asValue(options ?? {}) })
}

/** `medusa db:migrate`: creates or upgrades the tables (recognises Medusa's own), then
 * warns about drift it finds in them (lib's scan; it fixes nothing). */
async function runMigrations({ options, logger } = {}) {
  const inventory = await InventoryService.connect(databaseFrom(options))
  try {
    const { version, drift } = await inventory[MIGRATE]()
    logger?.info?.(`medusa-inventory-rs: schema at version ${version}`)
    // Ledger retention (module option; default: keep every movement).
    if (options?.movementRetentionDays !== undefined && options.movementRetentionDays !== null) {
      const pruned = await inventory.prune({ movementRetentionDays: options.movementRetentionDays })
      logger?.info?.(
        `medusa-inventory-rs: ${pruned.folded} movement(s) older than ${options.movementRetentionDays} days folded into ${pruned.carried}`,
      )
    }
    if (drift) logger?.warn?.(drift)
  } finally {
    await inventory.close()
  }
  return []
}

/** `medusa db:rollback inventory`: drops the module's tables. */
async function revertMigration({ options, logger } = {}) {
  const inventory = await InventoryService.connect(databaseFrom(options))
  try {
    await inventory.revertMigrations()
    logger?.info?.('medusa-inventory-rs: inventory tables dropped')
  } finally {
    await inventory.close()
  }
}

const definition = {
  ...Module(Modules.INVENTORY, { service: InventoryModuleService, loaders: [connectionLoader] }),
  runMigrations,
  revertMigration,
}

// CommonJS and ES-interop shapes both: Medusa's loader takes `.default ?? module`.
module.exports = { ...definition, default: definition, InventoryModuleService, joinerConfig, runWithLedgerContext }
