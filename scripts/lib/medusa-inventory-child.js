'use strict'
// The real @medusajs/inventory module, run in a plain Node child process so
// that Medusa's loader (dynamic import(), MikroORM, awilix, module singletons)
// does not have to live inside Jest's module sandbox.
//
// Started with child_process.fork(thisFile, [url, schema]); talks over the IPC
// channel. Every request is { id, op, ...params } and gets exactly one reply
// { id, ok: true, result } or { id, ok: false, error: { message, type, stack } }.
//
// ops:
//   migrate            run Medusa's own migrations for the module (MedusaAppMigrateUp)
//   load               boot the module through MedusaApp and keep its service
//   call {method,args} invoke a method of the loaded IInventoryService
//   callError {method,args}         invoke, expecting a throw: { isMedusaError, type, message, code, sqlState }
//   resultType {method,args,path}   constructor name of the result (or of result[path...])
//   graph {args,options}            app.query.graph(args, options)
//   callWithAggregator {method,args} invoke with a caller-owned MessageAggregator in the context
//   concurrent {calls,startAt}      fire all calls at once, settled results in order
//   loadedJoinerConfig              the joiner config Medusa registered for the loaded module
//   definitionOf {resolve}          linkable + joiner config of another module definition
//   shutdown           stop the app and exit
//
// Results are sent as JSON: Medusa's BigNumber serialises to a number through
// its toJSON(), Dates to ISO strings.

// MEDUSA_APP_DIR (the version matrix, scripts/medusa-versions.js): Medusa and both
// modules come from that app's node_modules, i.e. that app's Medusa version.
const APP_DIR = process.env.MEDUSA_APP_DIR
const load = APP_DIR ? require('module').createRequire(require('path').join(APP_DIR, 'package.json')) : require
const { MedusaApp, MedusaAppMigrateUp, MedusaModule } = load('@medusajs/framework/modules-sdk')
const { Modules, ModulesSdkUtils, ContainerRegistrationKeys } = load('@medusajs/framework/utils')
const { BigNumber, MedusaError, MessageAggregator } = load('@medusajs/framework/utils')

// resolve: which inventory module to boot ('@medusajs/inventory' or ours, 'medusa-inventory-rs/medusa').
const [url, schema, resolve = '@medusajs/inventory'] = process.argv.slice(2)
if (!url || !schema) {
  process.stderr.write('usage: medusa-inventory-child.js <database url> <schema>\n')
  process.exit(2)
}

const connections = []
// Records what the module emits (the database is real; only the bus is a recorder).
const emitted = []
const eventBus = {
  async emit(messages, options) {
    for (const m of [].concat(messages)) emitted.push({ name: m.name, data: m.data, metadata: m.metadata, options })
  },
  subscribe() {},
  unsubscribe() {},
}
let app
let service

/**
 * A knex connection whose sessions use `schema` as search_path. Handing it to
 * the module as `database.connection` is what makes Medusa's migrations (whose
 * SQL is not schema-qualified) land in `schema` rather than in `public`.
 */
function connection() {
  const knex = ModulesSdkUtils.createPgConnection({ clientUrl: url, schema, pool: { min: 0, max: 4 } })
  connections.push(knex)
  return knex
}

function appOptions() {
  const knex = connection()
  return {
    cwd: APP_DIR || __dirname,
    sharedResourcesConfig: { database: { clientUrl: url, schema } },
    injectedDependencies: { [ContainerRegistrationKeys.PG_CONNECTION]: knex, [Modules.EVENT_BUS]: eventBus },
    modulesConfig: {
      [Modules.INVENTORY]: {
        resolve,
        options: { database: { clientUrl: url, schema, connection: knex } },
      },
    },
  }
}

/**
 * Arguments of the ops below cross IPC as JSON; these markers stand for values
 * JSON cannot carry: { $number: 'NaN' | 'Infinity' | ... } and { $bigNumber: '2.5' }
 * (a Medusa BigNumber, as Medusa's workflows pass quantities).
 */
function revive(v) {
  if (Array.isArray(v)) return v.map(revive)
  if (!v || typeof v !== 'object') return v
  const keys = Object.keys(v)
  if (keys.length === 1 && keys[0] === '$number') return Number(v.$number)
  if (keys.length === 1 && keys[0] === '$bigNumber') return new BigNumber(v.$bigNumber)
  return Object.fromEntries(keys.map((k) => [k, revive(v[k])]))
}

const ops = {
  async migrate() {
    await MedusaAppMigrateUp(appOptions())
    MedusaModule.clearInstances()
    return null
  },
  async load() {
    app = await MedusaApp(appOptions())
    service = app.modules[Modules.INVENTORY]
    if (!service) throw new Error('inventory module did not load')
    return Object.keys(app.modules)
  },
  async call({ method, args }) {
    if (!service) throw new Error('call before load')
    if (typeof service[method] !== 'function') throw new Error(`no method ${method} on Medusa's inventory service`)
    const out = await service[method](...(args || []))
    return out === undefined ? null : JSON.parse(JSON.stringify(out))
  },
  /** Events emitted since the last call to this op. */
  async events() {
    return emitted.splice(0, emitted.length)
  },
  /** The module's linkable and joiner config as Medusa sees them (functions dropped). */
  async definition() {
    const mod = load(resolve)
    const def = mod.default ?? mod
    return JSON.parse(JSON.stringify({ linkable: def.linkable, joinerConfig: def.service.prototype.__joinerConfig() }))
  },
  /**
   * Calls a method expecting it to throw; reports what was thrown as Medusa's
   * code would see it (MedusaError.isMedusaError / instanceof, type, message).
   */
  async callError({ method, args }) {
    if (!service) throw new Error('call before load')
    try {
      const out = await service[method](...revive(args || []))
      return { threw: false, result: out === undefined ? null : JSON.parse(JSON.stringify(out)) }
    } catch (e) {
      return {
        threw: true,
        isMedusaError: MedusaError.isMedusaError(e),
        instanceOfMedusaError: e instanceof MedusaError,
        instanceOfError: e instanceof Error,
        type: e && e.type,
        message: e && e.message,
        code: e && e.code,
        sqlState: e && e.sqlState,
      }
    }
  },
  /**
   * Calls a method and reports the constructor name of the result, or of the
   * value at `path` inside it (e.g. ['0', 'available_quantity']).
   */
  async resultType({ method, args, path = [] }) {
    if (!service) throw new Error('call before load')
    let v = await service[method](...revive(args || []))
    for (const k of path) v = v == null ? v : v[k]
    return {
      constructorName: v == null ? String(v) : v.constructor && v.constructor.name,
      isBigNumber: v instanceof BigNumber,
      typeofValue: typeof v,
      numeric: v instanceof BigNumber ? v.numeric : typeof v === 'number' ? v : null,
    }
  },
  /** Medusa's Query: app.query.graph(args, options), as route handlers and workflows use it. */
  async graph({ args, options }) {
    if (!app) throw new Error('graph before load')
    const out = await app.query.graph(args, options)
    return JSON.parse(JSON.stringify(out))
  },
  /**
   * Calls a method with a caller-owned MessageAggregator in the shared context;
   * the string '$context' in args marks where the context goes (else it is appended).
   * Reports the result, what the aggregator holds afterwards and what reached the bus.
   */
  async callWithAggregator({ method, args = [], eventGroupId }) {
    if (!service) throw new Error('call before load')
    const aggregator = new MessageAggregator()
    const context = { messageAggregator: aggregator, ...(eventGroupId ? { eventGroupId } : {}) }
    const callArgs = args.includes('$context')
      ? revive(args).map((a) => (a === '$context' ? context : a))
      : [...revive(args), context]
    const before = emitted.length
    const out = await service[method](...callArgs)
    return {
      result: out === undefined ? null : JSON.parse(JSON.stringify(out)),
      aggregated: JSON.parse(JSON.stringify(aggregator.getMessages().default)),
      emittedOnBus: JSON.parse(JSON.stringify(emitted.slice(before))),
    }
  },
  /**
   * Fires every call at once inside this process (after waiting until `startAt`,
   * ms since epoch, if given) and returns the settled results in order.
   */
  async concurrent({ calls, startAt }) {
    if (!service) throw new Error('call before load')
    if (startAt) await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())))
    const settled = await Promise.allSettled(calls.map(({ method, args }) => service[method](...revive(args || []))))
    return settled.map((s) =>
      s.status === 'fulfilled'
        ? { ok: true, value: s.value === undefined ? null : JSON.parse(JSON.stringify(s.value)) }
        : { ok: false, type: s.reason && s.reason.type, message: String(s.reason && s.reason.message) },
    )
  },
  /** The joiner config Medusa registered for the loaded module, and whether Query may use it. */
  async loadedJoinerConfig() {
    if (!app) throw new Error('loadedJoinerConfig before load')
    const [loaded] = MedusaModule.getLoadedModules()
      .map((m) => m[Modules.INVENTORY])
      .filter(Boolean)
    return JSON.parse(
      JSON.stringify({
        registered: MedusaModule.getJoinerConfig(Modules.INVENTORY),
        // What Query reads: the loader sets the joiner config on the loaded instance.
        fromService: typeof service.__joinerConfig === 'function' ? service.__joinerConfig() : service.__joinerConfig,
        isQueryable: loaded?.__definition?.isQueryable ?? null,
        definitionKey: loaded?.__definition?.key ?? null,
      }),
    )
  },
  /** linkable + joiner config of any module definition, resolved from this child (functions dropped). */
  async definitionOf({ resolve: which }) {
    const mod = load(which)
    const def = mod.default ?? mod
    return JSON.parse(JSON.stringify({ linkable: def.linkable, joinerConfig: def.service.prototype.__joinerConfig() }))
  },
  async shutdown() {
    if (app) await app.onApplicationShutdown()
    for (const k of connections) {
      await k.context?.destroy?.()
      await k.destroy()
    }
    return null
  },
}

process.on('message', async (msg) => {
  const { id, op } = msg
  try {
    if (!ops[op]) throw new Error(`unknown op ${op}`)
    const result = await ops[op](msg)
    process.send({ id, ok: true, result }, () => {
      if (op === 'shutdown') process.exit(0)
    })
  } catch (e) {
    process.send({
      id,
      ok: false,
      error: { message: String(e && e.message), type: e && e.type, stack: String(e && e.stack) },
    })
  }
})

process.on('disconnect', () => process.exit(0))
process.send({ ready: true })
