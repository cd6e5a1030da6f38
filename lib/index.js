'use strict'
// The standalone API: a thin facade over the native addon. It only moves
// values across (JSON both ways) and gives errors Medusa's shape.

const { native, API, CALL, MIGRATE, splitArgs } = require('./internal')
const { callOnClient } = require('./lend')
const { Telemetry } = require('./telemetry')

/**
 * Error thrown by every method, shaped as Medusa's MedusaError: `type` is one of
 * MedusaError.Types and `code`, when set, Medusa's code refining it (as
 * MedusaError.Codes do): COMPARE_QUANTITY_STALE. For logs only, never in the message:
 * `sqlState`, a database error's SQLSTATE, and `cause`, the raw database or panic text.
 */
class InventoryError extends Error {
  constructor(type, message, code) {
    super(message)
    this.type = type
    if (code !== undefined) this.code = code
    this.date = new Date()
    // Lets Medusa's MedusaError.isMedusaError() and its HTTP error handler recognise it.
    this.__isMedusaError = true
  }
}

// The addon rejects with the same fields as data (`type`, `message`, `code`, `sqlState`,
// `cause`); the facade only makes them an InventoryError.
const ERROR_TYPES = new Set(native.errorTypes())

function toInventoryError(err) {
  if (!err || err instanceof InventoryError || !ERROR_TYPES.has(err.type)) return err
  const e = new InventoryError(err.type, err.message, err.code)
  if (err.sqlState !== undefined) e.sqlState = err.sqlState
  if (err.cause !== undefined) e.cause = err.cause
  return e
}

// JSON has no NaN/Infinity: serializing stops there, and the error path finds the field.
class NonFinite {
  constructor(holder, key, value) {
    this.holder = holder
    this.key = key
    this.value = value
  }
}

function replacer(key, value) {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new NonFinite(this, key, value)
  if (typeof value === 'bigint') return value.toString()
  return value
}

/** Path of `holder` inside `root` (object keys and array indexes), found by identity. */
function pathOf(root, holder, seen = new Set()) {
  if (root === holder) return []
  if (root === null || typeof root !== 'object' || seen.has(root)) return null
  seen.add(root)
  for (const key of Object.keys(root)) {
    const rest = pathOf(root[key], holder, seen)
    if (rest) return [Array.isArray(root) ? Number(key) : key, ...rest]
  }
  return null
}

/**
 * invalid_data naming where a non-finite number sat: `metadata.scores[1]`, `quantity`.
 * With `params` the root is the positional arguments: a bare argument is named by its
 * parameter, and the argument index is left out of deeper paths.
 */
function nonFiniteError(root, nf, params) {
  const holderPath = pathOf(root, nf.holder)
  const path = holderPath ? [...holderPath, Array.isArray(nf.holder) ? Number(nf.key) : nf.key] : [nf.key]
  if (params && typeof path[0] === 'number') {
    const index = path.shift()
    if (!path.length) path.push(params[index] || `argument ${index + 1}`)
  }
  const name = path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('')
  return new InventoryError('invalid_data', `${name} must be a finite number, received ${nf.value}`)
}

function stringify(root, params) {
  // Without a replacer JSON.stringify is about twice as fast. It writes NaN and Infinity
  // as null and throws on a bigint, so text with no "null" in it is what the replacer
  // would have written; anything else takes the replacer's path.
  let fast
  try {
    fast = JSON.stringify(root)
  } catch {
    fast = undefined
  }
  if (typeof fast === 'string' && !fast.includes('null')) return fast
  try {
    return JSON.stringify(root, replacer)
  } catch (e) {
    if (e instanceof NonFinite) throw nonFiniteError(root, e, params)
    throw e
  }
}

// Results are revived by the schema: timestamp columns of the returned entity and
// of its relations become Dates; every other value (metadata included) stays as sent.
const SHAPES = {}
for (const [name, { dates }] of Object.entries(API.entities)) SHAPES[name] = { dates, nested: {}, revive: null }
for (const [name, { relations }] of Object.entries(API.entities)) {
  const nested = SHAPES[name].nested
  for (const [relation, target] of Object.entries(relations)) nested[relation] = SHAPES[target]
  // Cascade maps (`{ InventoryLevel: [levels] }`) are keyed by entity name.
  for (const entity of Object.keys(SHAPES)) nested[entity] ??= SHAPES[entity]
}

function reviveDates(value, shape) {
  if (Array.isArray(value)) {
    for (const v of value) reviveDates(v, shape)
  } else if (value !== null && typeof value === 'object') {
    ;(shape.revive ??= compileReviver(shape))(value)
  }
  return value
}

// One function per shape that names its fields: a result's rows share one hidden
// class, so each load stays monomorphic, where one loop over the field names was
// megamorphic and cost about as much as parsing the dates (0.2 ms for 1000 items).
// The names are the manifest's identifiers, checked before they become code.
function compileReviver(shape) {
  const nested = Object.keys(shape.nested)
  const lines = []
  for (const key of [...shape.dates, ...nested]) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`not a field name: ${key}`)
  }
  for (const key of shape.dates) lines.push(`if (typeof v.${key} === 'string') v.${key} = dateOf(v.${key})`)
  nested.forEach((key, i) => {
    lines.push(`if (v.${key} !== null && typeof v.${key} === 'object') reviveDates(v.${key}, nested[${i}])`)
  })
  const make = new Function('dateOf', 'reviveDates', 'nested', `return function revive(v) {\n${lines.join('\n')}\n}`)
  return make(
    dateOf,
    reviveDates,
    nested.map((key) => shape.nested[key]),
  )
}

// A bulk create's DTOs as the addon sends them when asked (call option `columns`):
// `columns` names the keys in the objects' order; `rows` holds one array per DTO, a
// cell for each column given as `name`, or `[name, precision]` for a BigNumber raw
// whose cells are its value. A column given as `{ name, value }` (raw: `{ name,
// precision, value }`) has the same value, a scalar, in every DTO. Node parses 1000
// such short arrays in a fraction of the time it takes for 1000 objects that repeat
// every key and every default (see docs/benchmarks.md).
function fromColumns(columns, rows) {
  const { build, same } = layoutOf(columns)
  const k = same.map((i) => columns[i].value)
  const out = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) out[i] = build(rows[i], k)
  return out
}

// One builder per layout (an entity's, with the columns a batch left to their defaults:
// a handful in all), code like the revivers' so that every object of a result shares
// one hidden class; the names are checked before they become code.
const layouts = new Map()
function layoutOf(columns) {
  const shared = (c) => c !== null && typeof c === 'object' && !Array.isArray(c)
  const key = JSON.stringify(columns.map((c) => (shared(c) ? [c.name, c.precision ?? null, 'same'] : c)))
  let layout = layouts.get(key)
  if (layout) return layout
  const same = []
  let cells = 0
  const fields = columns.map((c, i) => {
    const [name, precision] = typeof c === 'string' ? [c, null] : shared(c) ? [c.name, c.precision ?? null] : c
    let from
    if (shared(c)) {
      if (c.value !== null && typeof c.value === 'object') throw new Error(`not a shared value: ${JSON.stringify(c)}`)
      from = `k[${same.length}]`
      same.push(i)
    } else {
      from = `r[${cells}]`
      cells += 1
    }
    if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a field name: ${name}`)
    if (precision === null) return `${name}: ${from}`
    if (!Number.isInteger(precision)) throw new Error(`not a precision: ${precision}`)
    return `${name}: { precision: ${precision}, value: ${from} }`
  })
  layout = { build: new Function('r', 'k', `return { ${fields.join(', ')} }`), same }
  if (layouts.size < 64) layouts.set(key, layout)
  return layout
}

// Rows written by one statement share their timestamps (a bulk create's 2 000 are one
// text): parse each distinct text once, still a new Date per field.
let lastDateText = null
let lastDateMs = 0
function dateOf(text) {
  if (text !== lastDateText) {
    lastDateText = text
    lastDateMs = Date.parse(text)
  }
  return new Date(lastDateMs)
}

/** PEM as text: node-postgres accepts strings, Buffers and arrays of either. */
function pemText(value) {
  if (Array.isArray(value)) return value.map(pemText).join('\n')
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8')
  return value
}

/**
 * node-postgres's `ssl` option in the form the core reads. Keys it does not know are
 * kept (functions as a marker, since JSON would drop them) so the core names them.
 */
function sslOption(ssl) {
  if (ssl === undefined || ssl === null || typeof ssl !== 'object' || Buffer.isBuffer(ssl)) return ssl
  const out = {}
  for (const [key, value] of Object.entries(ssl)) {
    if (value === undefined) continue
    if (key === 'ca' || key === 'cert' || key === 'key') out[key] = pemText(value)
    else out[key] = typeof value === 'function' ? `[function ${key}]` : value
  }
  return out
}

/**
 * A reconcile dry run over all pages: ids of the live levels whose reserved quantity
 * drifted, and of the levels whose quantities differ from the sum of their movements.
 */
async function driftedLevels(inventory, { pageSize = 10000, levels = DRIFT_SCAN_LEVELS } = {}) {
  const reserved = []
  const ledger = new Set()
  let after = null
  let scanned = 0
  do {
    const page = await inventory.reconcile({ dryRun: true, after, limit: pageSize })
    for (const l of page.levels) reserved.push(l.id)
    for (const g of page.ledger ?? []) ledger.add(g.id)
    scanned += page.scanned
    after = page.next
  } while (after !== null && scanned < levels)
  return { reserved, ledger: [...ledger], partial: after !== null ? scanned : 0 }
}

/**
 * Levels migrate() checks for drift, at most: a dry run costs about 0.05 ms per level,
 * so checking every one of millions would hold `medusa db:migrate` for minutes. The
 * warning says when it stopped short; `reconcile --dry-run` checks them all.
 */
const DRIFT_SCAN_LEVELS = 100_000

const firstFive = (ids) => `(${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''})`

/**
 * What migrating says about drift (the first five levels of each kind named), or null when
 * there is none. Ledger gaps are left out when this connection writes no ledger.
 */
function driftMessage({ reserved, ledger, partial }, { schema, ledgerOn }) {
  const found = []
  if (reserved.length) {
    found.push(
      `${reserved.length} inventory level(s) have a reserved_quantity that is not the sum of their live reservations ${firstFive(reserved)}.`,
    )
  }
  if (ledgerOn && ledger.length) {
    found.push(
      `${ledger.length} inventory level(s) have quantities that are not the sum of their movements in the ledger ${firstFive(ledger)}.`,
    )
  }
  if (!found.length) return null
  if (partial) found.push(`(Only the first ${partial} levels were checked; the dry run checks all.)`)
  const where = schema && schema !== 'public' ? ` --schema ${schema}` : ''
  return `medusa-inventory-rs: ${found.join(' ')} See them with \`npx medusa-inventory-rs reconcile --dry-run --url <database url>${where}\` and fix them without --dry-run.`
}

class InventoryService {
  constructor(handle, { schema, ledger, url, logger, telemetry } = {}) {
    this._native = handle
    // For the drift warning of migrate().
    this._schema = schema
    this._ledgerOn = ledger !== false
    this._telemetry = new Telemetry(handle, { url, schema, logger, telemetry })
  }

  /**
   * Opens a connection pool.
   * @param {import('./index').ConnectOptions} options
   */
  static async connect(options = {}) {
    // `logger` and `telemetry` stay in JS (see lib/telemetry.js); the rest goes to the core.
    const { logger, telemetry, ...opts } = options
    if (logger !== undefined && logger !== null && typeof logger.warn !== 'function') {
      throw new InventoryError('invalid_data', 'connect option logger must have a warn(message) method')
    }
    if (telemetry !== undefined && typeof telemetry !== 'boolean') {
      throw new InventoryError('invalid_data', 'connect option telemetry must be a boolean')
    }
    if (!opts.url) opts.url = process.env.DATABASE_URL
    if ('ssl' in opts) opts.ssl = sslOption(opts.ssl)
    try {
      return new InventoryService(await native.connect(stringify(opts)), { ...opts, logger, telemetry })
    } catch (e) {
      throw toInventoryError(e)
    }
  }

  /**
   * Creates or upgrades the tables (idempotent); resolves to the schema version. Tables
   * written by another writer (@medusajs/inventory, hand-run SQL) may hold levels whose
   * reserved quantity is not the sum of their live reservations, or whose quantities are
   * not the sum of their movements: a reconcile dry run over the first DRIFT_SCAN_LEVELS
   * finds them, and a process warning (code MEDUSA_INVENTORY_RS_DRIFT) names them. Nothing
   * is fixed.
   */
  async migrate() {
    const { version, drift } = await this[MIGRATE]()
    if (drift) process.emitWarning(drift, { code: 'MEDUSA_INVENTORY_RS_DRIFT' })
    return version
  }

  /** Drops the tables this module owns (what Medusa's migration revert does). Destructive. */
  async revertMigrations() {
    try {
      await this._native.revertMigrations()
    } catch (e) {
      throw toInventoryError(e)
    }
  }

  /**
   * Finds, and unless `dryRun` fixes, one page of live levels whose reserved quantity
   * is not the sum of their live reservations. Not a Medusa method: an operations tool.
   * @param {import('./index').ReconcileOptions} options
   */
  async reconcile(options = {}) {
    let out
    try {
      // Unknown or mistyped options are named by the core, as connect's are.
      out = await this._native.reconcile(stringify(options))
    } catch (e) {
      throw toInventoryError(e)
    }
    return JSON.parse(out)
  }

  /**
   * Ledger retention: folds movements older than `movementRetentionDays` into one
   * `carried_forward` movement per level and quantity (sums stay exact), and drops
   * expired idempotency keys. Not a Medusa method: run it from a scheduled job.
   * @param {{ movementRetentionDays: number }} options
   */
  async prune(options = {}) {
    let out
    try {
      out = await this._native.prune(stringify(options))
    } catch (e) {
      throw toInventoryError(e)
    }
    return JSON.parse(out)
  }

  /**
   * What the metrics carry, for anyone without OpenTelemetry: the pool, the reservation
   * groups and the core's counters since connect, and per method its calls, failures by
   * error type and durations.
   */
  stats() {
    return this._telemetry.stats()
  }

  async close() {
    this._telemetry.close()
    this._native.close()
  }

  // One method per manifest entry (Medusa's IInventoryService data methods, named as
  // Medusa names them, and this module's extensions). The argument after the positional
  // ones is the call's options: { reason, actor, reference, idempotencyKey, metadata }.
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

/** Internal (lib/internal.js): migrate, and the drift warning for the caller to report. */
InventoryService.prototype[MIGRATE] = async function (scan) {
  let version
  try {
    version = await this._native.migrate()
  } catch (e) {
    throw toInventoryError(e)
  }
  return {
    version,
    drift: driftMessage(await driftedLevels(this, scan), { schema: this._schema, ledgerOn: this._ledgerOn }),
  }
}

/**
 * The one path to the addon: positional arguments of the manifest method `spec`
 * (context already split off) to `{ result, changes, json }`, `json` being the addon's
 * text. Internal (lib/internal.js): the Medusa adapter uses it for the changes it turns
 * into events.
 */
InventoryService.prototype[CALL] = async function (spec, args, options) {
  let client
  if (options && typeof options === 'object' && options.client !== undefined) {
    ;({ client, ...options } = options)
  }
  let payload
  try {
    payload = stringify(args, spec.params)
  } catch (e) {
    if (e instanceof InventoryError) throw e
    throw new InventoryError('invalid_data', `Arguments of ${spec.name} cannot be serialized: ${e.message}`)
  }
  const telemetry = this._telemetry
  const handle = telemetry.begin(spec.name)
  // The addon's option `columns`: a bulk create's rows come as arrays (fromColumns).
  let opts = handle.traced ? '{"columns":true,"trace":true}' : '{"columns":true}'
  if (options !== undefined && options !== null) {
    // Options that are not an object go as they are: the core names what is wrong.
    if (typeof options === 'object' && !Array.isArray(options)) {
      options = handle.traced ? { columns: true, ...options, trace: true } : { columns: true, ...options }
    }
    opts = null
    try {
      opts = stringify(options)
    } catch (e) {
      if (e instanceof InventoryError) throw e
      throw new InventoryError('invalid_data', `Options of ${spec.name} cannot be serialized: ${e.message}`)
    } finally {
      if (opts === null) telemetry.end(spec.name, handle, null, { type: 'invalid_data' }, null)
    }
  }
  let out
  try {
    out = client
      ? await callOnClient(this, client, spec.name, payload, opts, (type, message) => new InventoryError(type, message))
      : await this._native.call(spec.name, payload, opts)
  } catch (e) {
    const err = toInventoryError(e)
    telemetry.end(spec.name, handle, null, err, e?.trace)
    throw err
  }
  const parsed = JSON.parse(out)
  if (parsed.rows !== undefined) {
    parsed.result = fromColumns(parsed.columns, parsed.rows)
    parsed.columns = parsed.rows = undefined
  }
  let trace = null
  if (parsed.trace !== undefined) {
    trace = parsed.trace
    delete parsed.trace
  }
  const shape = SHAPES[spec.result]
  if (shape) reviveDates(parsed.result, shape)
  // The text too: the adapter searches it rather than walking the parsed result.
  parsed.json = out
  telemetry.end(spec.name, handle, parsed, null, trace)
  return parsed
}

/**
 * The body of every generated method: `args` is its `arguments`, as the caller passed
 * them (positional ones, then the options; adjustInventory's batch form: see splitArgs).
 */
async function invoke(service, name, args) {
  const spec = API.byName.get(name)
  const split = splitArgs(spec, args)
  const { result } = await service[CALL](spec, split.args, split.context)
  return result === null ? undefined : result
}

const methods = API.methods.map((m) => m.name)

/** How many positional arguments (before the context) a method takes. */
function arityOf(name) {
  return API.byName.get(name)?.params.length
}

module.exports = { InventoryService, InventoryError, methods, arityOf }
