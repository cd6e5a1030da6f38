'use strict'
// The standalone API: a thin facade over the native addon. It only moves
// values across (JSON both ways) and gives errors Medusa's shape.

const native = loadNative()

// The generated loader (../index.js) picks ./medusa-inventory-rs.<platform>.node or the
// platform package npm installed from optionalDependencies. When neither is there its
// error blames an npm bug; this one names the platform and the two ways out.
function loadNative() {
  try {
    return require('../index.js')
  } catch (e) {
    const { platform, arch } = process
    let libc = ''
    if (platform === 'linux') {
      const header = process.report && process.report.getReport().header
      libc = header && header.glibcVersionRuntime ? 'gnu' : 'musl'
    } else if (platform === 'win32') libc = 'msvc'
    const key = [platform, arch, libc].filter(Boolean).join('-')
    // napi.targets holds Rust triples: x86_64-unknown-linux-gnu is published as linux-x64-gnu.
    const prebuilt = require('../package.json').napi.targets.some((t) => {
      const [cpu, , os, abi] = t.split('-')
      const p = { darwin: 'darwin', linux: 'linux', windows: 'win32' }[os]
      return [p, { x86_64: 'x64', aarch64: 'arm64' }[cpu], abi].filter(Boolean).join('-') === key
    })
    const err = new Error(
      `medusa-inventory-rs: no native binary loaded for ${key} ` +
        `(process.platform=${platform}, arch=${arch}${libc ? `, libc=${libc}` : ''}). ` +
        (prebuilt
          ? `Install the prebuilt one: npm install medusa-inventory-rs-${key} ` +
            '(npm skips it when optional dependencies are omitted or the lockfile was made on another platform). '
          : 'No prebuilt binary is published for this platform. ') +
        'To build from source, install Rust (https://rustup.rs) and run `npm install && npm run build` ' +
        'in a checkout of medusa-inventory-rs (the loader\'s errors are in `cause`).',
    )
    err.code = 'ERR_MEDUSA_INVENTORY_RS_NATIVE'
    err.cause = e
    throw err
  }
}

const DATE_KEYS = new Set(['created_at', 'updated_at', 'deleted_at'])

/** Error thrown by every method: `type` is one of Medusa's MedusaError.Types. */
class InventoryError extends Error {
  constructor(type, message) {
    super(message)
    this.type = type
    this.date = new Date()
    // Lets Medusa's MedusaError.isMedusaError() and its HTTP error handler recognise it.
    this.__isMedusaError = true
  }
}

// The addon's message is `[type] message`, optionally followed by a last line
// `[details] {"code", "cause"}`: the SQLSTATE and raw database/panic text, kept off
// the message (callers and HTTP responses see it) and on properties for logs.
function toInventoryError(err) {
  const m = /^\[([a-z_]+)\] ([\s\S]*?)(?:\n\[details\] (\{.*\}))?$/.exec(err && err.message)
  if (!m) return err
  const e = new InventoryError(m[1], m[2])
  if (m[3]) {
    try {
      const details = JSON.parse(m[3])
      if (details.code) e.code = details.code
      if (details.cause) e.cause = details.cause
    } catch {
      // Malformed details only lose the log fields.
    }
  }
  return e
}

// JSON has no NaN/Infinity or BigInt; send them in a shape the core rejects by field name.
function replacer(_key, value) {
  if (typeof value === 'number' && !Number.isFinite(value)) return { $nonFinite: String(value) }
  if (typeof value === 'bigint') return value.toString()
  return value
}

function reviver(key, value) {
  return typeof value === 'string' && DATE_KEYS.has(key) ? new Date(value) : value
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

class InventoryService {
  constructor(handle) {
    this._native = handle
  }

  /**
   * Opens a connection pool.
   * @param {import('./index').ConnectOptions} options
   */
  static async connect(options = {}) {
    const opts = { ...options }
    if (!opts.url) opts.url = process.env.DATABASE_URL
    if ('ssl' in opts) opts.ssl = sslOption(opts.ssl)
    try {
      return new InventoryService(await native.connect(JSON.stringify(opts, replacer)))
    } catch (e) {
      throw toInventoryError(e)
    }
  }

  /** Creates or upgrades the tables (idempotent); resolves to the schema version. */
  async migrate() {
    try {
      return await this._native.migrate()
    } catch (e) {
      throw toInventoryError(e)
    }
  }

  /** Drops the tables this module owns (what Medusa's migration revert does). Destructive. */
  async revertMigrations() {
    try {
      await this._native.revertMigrations()
    } catch (e) {
      throw toInventoryError(e)
    }
  }

  async close() {
    this._native.close()
  }

  async _call(method, args) {
    const { result } = await this._callRaw(method, args)
    return result === null ? undefined : result
  }

  /** Like a method call, but resolves to `{ result, changes }` (used by the Medusa adapter for events). */
  async _callRaw(method, args) {
    let payload
    try {
      payload = JSON.stringify(args, replacer)
    } catch (e) {
      throw new InventoryError('invalid_data', `Arguments of ${method} cannot be serialized: ${e.message}`)
    }
    let out
    try {
      out = await this._native.call(method, payload)
    } catch (e) {
      throw toInventoryError(e)
    }
    return JSON.parse(out, reviver)
  }
}

// One method per Medusa IInventoryService data method, named as Medusa names them.
// The trailing shared-context argument Medusa passes is accepted and ignored.
const ARITY = {
  adjustInventory: 3,
  confirmInventory: 3,
  deleteInventoryLevel: 2,
  retrieveInventoryLevelByItemAndLocation: 2,
  retrieveAvailableQuantity: 2,
  retrieveStockedQuantity: 2,
  retrieveReservedQuantity: 2,
  deleteInventoryItemLevelByLocationId: 1,
  deleteReservationItemsByLineItem: 1,
  restoreReservationItemsByLineItem: 1,
  deleteReservationItemByLocationId: 1,
  deleteInventoryItems: 1,
  deleteInventoryLevels: 1,
  deleteReservationItems: 1,
}
function arityOf(name) {
  if (name in ARITY) return ARITY[name]
  if (/^(create|update)/.test(name)) return 1
  return 2 // list*, listAndCount*, retrieve*, softDelete*, restore*: (selector, config)
}

for (const name of native.methods()) {
  const arity = arityOf(name)
  Object.defineProperty(InventoryService.prototype, name, {
    value: function (...args) {
      // adjustInventory(array) takes one argument; the string form takes three.
      const n = name === 'adjustInventory' && Array.isArray(args[0]) ? 1 : arity
      return this._call(name, args.slice(0, n))
    },
    writable: true,
    configurable: true,
  })
}

module.exports = { InventoryService, InventoryError, methods: native.methods(), arityOf }
