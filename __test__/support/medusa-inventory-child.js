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
//   shutdown           stop the app and exit
//
// Results are sent as JSON: Medusa's BigNumber serialises to a number through
// its toJSON(), Dates to ISO strings.

const { MedusaApp, MedusaAppMigrateUp, MedusaModule } = require('@medusajs/framework/modules-sdk')
const { Modules, ModulesSdkUtils, ContainerRegistrationKeys } = require('@medusajs/framework/utils')

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
    cwd: __dirname,
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
    const mod = require(resolve)
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
